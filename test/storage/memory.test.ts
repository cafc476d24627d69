import { memoryStorage } from '../../lib/memory-storage.js';
import { runStorageContract } from './contract.js';

runStorageContract('memoryStorage', async () => ({ storage: memoryStorage() }));

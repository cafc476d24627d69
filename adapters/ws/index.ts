/**
 * `concord/ws`: the WebSocket transport, for browsers (global WebSocket) and Node (`ws`, loaded lazily).
 *
 *   import { webSocketTransport } from 'concord/ws';
 *   replica.connect(webSocketTransport('wss://relay.example', { token: () => fetchToken() }));
 */
export { webSocketTransport, type WebSocketTransport, type WebSocketTransportOptions, type WebSocketConstructor } from './transport.js';

import mqtt from 'mqtt';

/**
 * The one subscriber of the reference brokers in the ingest benchmark (forked, own process):
 * subscribes to every drone's telemetry at the given QoS and counts what arrives. Over IPC it
 * answers `count` with how many messages came and when the last one did (epoch ms).
 * Argv: <port> <qos>
 */
const [port, qos] = [Number(process.argv[2]), Number(process.argv[3]) as 0 | 1];
const now = () => performance.timeOrigin + performance.now();
let received = 0;
let lastAt = 0;
const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `bench-relay-subscriber-${process.pid}`, clean: true, reconnectPeriod: 0 });
client.on('message', () => {
  received++;
  lastAt = now();
});
client.on('error', (err) => process.send!({ type: 'error', message: err.message }));
client.on('connect', () => {
  client.subscribe('gridpatrol/v1/drones/+/telemetry', { qos }, (err) => {
    if (err) process.send!({ type: 'error', message: err.message });
    else process.send!({ type: 'ready' });
  });
});
process.on('message', (m: { type: string }) => {
  if (m.type === 'count') process.send!({ type: 'count', received, lastAt });
  else if (m.type === 'stop') client.end(true, {}, () => process.exit(0));
});
process.on('disconnect', () => process.exit(0));

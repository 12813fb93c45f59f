// Tiny HTTPS peer for the HTTP client's TLS tests (loopback only).
// node tls_server.mjs --cert C --key K [--ca CA --require-client-cert] [--body-file F]
// Prints {"port":N} once listening. Answers every request with 200 and either the body file or
// {"authorized":bool,"cn":string|null,"servername":string|null}. Exits when stdin closes.
import https from 'node:https';
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const options = { cert: fs.readFileSync(opt('--cert')), key: fs.readFileSync(opt('--key')) };
if (opt('--ca')) options.ca = fs.readFileSync(opt('--ca'));
if (args.includes('--require-client-cert')) {
  options.requestCert = true;
  options.rejectUnauthorized = true;
}
const bodyFile = opt('--body-file');

const server = https.createServer(options, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    if (bodyFile) {
      body = fs.readFileSync(bodyFile);
    } else {
      const peer = req.socket.getPeerCertificate();
      body = JSON.stringify({
        authorized: req.socket.authorized,
        cn: peer && peer.subject ? peer.subject.CN : null,
        servername: req.socket.servername || null,
      });
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  });
});
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

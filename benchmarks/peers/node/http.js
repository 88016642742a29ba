// node-http: /plaintext and /json on Node's built-in http module, one process.
// Usage: node http.js PORT
'use strict';
const http = require('node:http');

const port = Number(process.argv[2]);
const plain = 'Hello, World!';
http.createServer((req, res) => {
  if (req.url === '/plaintext') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(plain) });
    res.end(plain);
  } else if (req.url === '/json') {
    const body = JSON.stringify({ message: 'Hello, World!' });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else {
    res.writeHead(404);
    res.end();
  }
}).listen(port, '127.0.0.1');

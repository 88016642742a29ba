// node-fastify: /plaintext and /json on Fastify, one process, no logger.
// Usage: node fastify.js PORT
'use strict';
const fastify = require('fastify')({ logger: false });

fastify.get('/plaintext', (request, reply) => {
  reply.type('text/plain').send('Hello, World!');
});
// The response schema lets Fastify serialize with fast-json-stringify, as its docs recommend.
fastify.get('/json', {
  schema: { response: { 200: { type: 'object', properties: { message: { type: 'string' } } } } },
}, (request, reply) => {
  reply.send({ message: 'Hello, World!' });
});

fastify.listen({ port: Number(process.argv[2]), host: '127.0.0.1' }, (err) => {
  if (err) { console.error(err); process.exit(1); }
});

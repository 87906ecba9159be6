// Request validation, decided per part of the request: bodies are taken as sent (no type
// coercion: "1925" is not a year) with unknown properties dropped where a schema closes them;
// query strings and params are text by nature, so they are coerced and defaults applied.
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ removeAdditional: true, useDefaults: true, allErrors: true, strict: false, ...options });
  addFormats.default(ajv);
  return ajv;
}

export default fp(
  async function validation(app: FastifyInstance) {
    const bodies = createAjv({ coerceTypes: false });
    const text = createAjv({ coerceTypes: 'array' });
    app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodies : text).compile(schema));
  },
  { name: 'validation' },
);

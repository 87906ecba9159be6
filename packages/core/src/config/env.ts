// Reading one process's variables: convert, apply defaults, validate against the schema, and
// stop on the first bad value with one line naming the variable and what it must be.
import Type, { type Static, type TObject, type TProperties } from 'typebox';
import Value from 'typebox/value';

export const Duration = (defaultValue: string, description: string) =>
  Type.String({ pattern: '^\\d+(ms|s|m|h|d)?$', default: defaultValue, description });
export const Int = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ minimum, maximum, default: defaultValue, description });
export const Bool = (defaultValue: boolean, description: string) => Type.Boolean({ default: defaultValue, description });
export const Str = (defaultValue: string, description: string) => Type.String({ default: defaultValue, description });

/** The validated values of a set of variables. */
export type EnvOf<P extends TProperties> = Static<TObject<P>>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

interface NumericSchema {
  description?: string;
  type?: string;
  minimum?: number;
  maximum?: number;
}

// Written from the schema itself, so a message can never disagree with what is enforced.
function rangeOf(schema: NumericSchema | undefined): string {
  if (schema?.type !== 'integer' && schema?.type !== 'number') return '';
  const n = (value: number) => value.toLocaleString('en-US');
  const kind = schema.type === 'integer' ? 'an integer' : 'a number';
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `, ${kind} from ${n(schema.minimum)} to ${n(schema.maximum)}`;
  if (schema.minimum !== undefined) return `, ${kind} of at least ${n(schema.minimum)}`;
  if (schema.maximum !== undefined) return `, ${kind} of at most ${n(schema.maximum)}`;
  return `, ${kind}`;
}

/** Reads only the variables in `properties`; throws ConfigError with a one-line message. */
export function readEnv<P extends TProperties>(properties: P, source: Record<string, string | undefined>): EnvOf<P> {
  const schema = Type.Object(properties);
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(properties)) {
    const value = source[name];
    // An empty variable means "use the default", as in most .env conventions.
    if (value !== undefined && value.trim() !== '') raw[name] = value.trim();
  }
  const env = Value.Convert(schema, Value.Default(schema, raw)) as Record<string, unknown>;
  const [error] = Value.Errors(schema, env);
  if (error) {
    const name = error.instancePath.split('/')[1] ?? '';
    const property = (properties as Record<string, NumericSchema>)[name];
    const got = raw[name] === undefined ? 'nothing' : JSON.stringify(raw[name]);
    throw new ConfigError(
      `Invalid configuration: ${name} must be ${property?.description ?? error.message}${rangeOf(property)} (got ${got})`,
    );
  }
  return env as never;
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** For entry files: the config, or one line on stderr naming the bad variable and exit code 1. */
export function orExit<C>(load: (source: Record<string, string | undefined>) => C, source: Record<string, string | undefined>): C {
  try {
    return load(source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

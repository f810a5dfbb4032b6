import { readFileSync } from 'node:fs';
import { ErrorCodes, PorticoError } from '../../framework/index.js';

/** Read a JSON config file: a missing file or bad JSON is PORTICO_ERR_CONFIG naming the file (exit 2). */
export function readJsonConfig(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PorticoError(ErrorCodes.CONFIG, 'host', `cannot read config ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PorticoError(ErrorCodes.CONFIG, 'host', `config ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

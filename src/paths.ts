import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, whether running from src/ (tests) or from dist/src/. */
export const PACKAGE_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.basename(dir) !== 'src') dir = path.dirname(dir);
  const root = path.dirname(dir);
  return path.basename(root) === 'dist' ? path.dirname(root) : root;
})();

export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'migrations');
export const CERTS_DIR = path.join(PACKAGE_ROOT, 'certs');

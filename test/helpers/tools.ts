// Command-line programs the tests drive, taken from where their Debian package installs them (the
// .ci/setup.d scripts that `npm run test:all` runs install them), never from whatever comes first on PATH: a
// pyenv shim's awscli v1 signs presigned URLs differently from the awscli v2 the tests expect, and a pyenv
// python3 is not the interpreter the tests were written against.
import { existsSync } from 'node:fs';

interface Tool {
  path: string;
  pkg: string;
  setup: string;
}

const TOOLS = {
  chromium: { path: '/usr/bin/chromium', pkg: 'chromium', setup: '.ci/setup.d/50-chromium.sh' },
  aws: { path: '/usr/bin/aws', pkg: 'awscli', setup: '.ci/setup.d/40-s3-clients.sh' },
  curl: { path: '/usr/bin/curl', pkg: 'curl', setup: '.ci/setup.d/41-http-clients.sh' },
  fio: { path: '/usr/bin/fio', pkg: 'fio', setup: '.ci/setup.d/30-fuse.sh' },
  openssl: { path: '/usr/bin/openssl', pkg: 'openssl', setup: '.ci/setup.d/00-build-tools.sh' },
  python3: { path: '/usr/bin/python3', pkg: 'python3', setup: '.ci/setup.d/00-build-tools.sh' },
  rclone: { path: '/usr/bin/rclone', pkg: 'rclone', setup: '.ci/setup.d/40-s3-clients.sh' },
  s3fs: { path: '/usr/bin/s3fs', pkg: 's3fs', setup: '.ci/setup.d/40-s3-clients.sh' },
} satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

/** Why the tool cannot be used (what to run to get it), or undefined when it is installed. */
export function missingTool(name: ToolName): string | undefined {
  const t: Tool = TOOLS[name];
  if (existsSync(t.path)) return undefined;
  return `${t.path} is missing: run 'npm run test:all' (installs what the tests need), or 'bash ${t.setup}' / 'apt-get install -y ${t.pkg}' as root`;
}

/** Options for node:test: skipped with what to install when run by hand, a failure in CI (CI=true). */
export function toolTestOptions(...names: ToolName[]): { skip?: string } {
  const why = names.map(missingTool).find((w) => w !== undefined);
  if (why && process.env.CI !== 'true') return { skip: why };
  return {};
}

/**
 * The absolute path of the installed tool. Throws (failing the test that needs it) with what to run when it
 * is not installed: a missing tool is a setup gap to fix, never a reason to fall back to another copy.
 */
export function tool(name: ToolName): string {
  const why = missingTool(name);
  if (why) throw new Error(why);
  return TOOLS[name].path;
}

/**
 * `npm run demo`: the whole round trip on one machine. Builds nothing itself
 * (the npm script runs `npm run build` first); see demo.ts for what it starts.
 */
import { startDemo } from './demo';

async function main(): Promise<void> {
  const demo = await startDemo({ gatewayOutput: 'inherit' });
  const lines = [
    '',
    'verigate demo is running.',
    '',
    `  Open ${demo.appUrl} in a browser.`,
    '',
    '  Then: Sign in as Ada -> Call /api/reports (verified, with product access)',
    '        -> Call /api/analytics (403: Ada lacks that product)',
    '        -> Sign out -> Call /api/reports again (401) -> Replay the old token (401 session_ended).',
    '',
    `  Gateway (sandbox, embedded store): ${demo.gateway.sandbox}   browser SDK: ${demo.gateway.sandbox}/sdk/v1/verigate.js`,
    `  Site ${demo.site.siteId}, publishable key ${demo.site.publishableKey}`,
    '  The customer backend holds the API key and the identity secret; the page never sees them.',
    '',
    '  Ctrl+C stops everything (nothing persists).',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = () => {
    void demo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/** This package's version, sent in `User-Agent` (test/sdk/node-packaging.test.ts keeps it equal to package.json's). */
export const SDK_VERSION = '0.1.0';

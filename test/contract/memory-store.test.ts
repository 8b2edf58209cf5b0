import { MemoryBackend, MemoryKvStore as MemoryStore } from '../../src/store/memory-kv';
import { storeContract } from './store.contract';

let clock = 1_700_000_000_000;
const backend = new MemoryBackend();

storeContract('MemoryStore', (namespace) => new MemoryStore({ namespace, shared: backend, now: () => clock }), {
  advanceTime: (ms) => {
    clock += ms;
  },
});

describe('MemoryStore specifics', () => {
  it('keeps keys under the full namespace in the backend', async () => {
    const store = new MemoryStore({ namespace: 'ns:live:', shared: new MemoryBackend() });
    await store.write([{ op: 'set', key: '{t}:k', value: 'v' }]);
    expect([...store.backend.data.keys()]).toEqual(['ns:live:{t}:k']);
    await store.close();
  });

  it('without `shared`, each store has its own backend', async () => {
    const one = new MemoryStore({ namespace: 'ns:live:' });
    const two = new MemoryStore({ namespace: 'ns:live:' });
    await one.write([{ op: 'set', key: 'k', value: 'v' }]);
    await expect(two.get('k')).resolves.toBeNull();
    await Promise.all([one.close(), two.close()]);
  });

  it('drops expired keys nobody reads again', async () => {
    let now = 0;
    const store = new MemoryStore({ namespace: 'ns:live:', now: () => now });
    await store.write([{ op: 'set', key: 'old', value: 'v', ttlMs: 10 }]);
    now = 100;
    for (let i = 0; i < 1000; i++) await store.write([{ op: 'set', key: 'busy', value: String(i) }]);
    expect(store.backend.data.has('ns:live:old')).toBe(false);
    expect(store.backend.data.has('ns:live:busy')).toBe(true);
    await store.close();
  });
});

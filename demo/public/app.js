// The demo page's own code: plain browser JavaScript over the global Verigate.
'use strict';
(function () {
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  let lastToken = null;

  function renderSdk(user) {
    $('status').textContent = user ? `signed in as ${user.name || user.userId}` : 'anonymous';
    $('status').className = user ? 'ok' : 'muted';
    const error = Verigate.lastError;
    $('sdk-user').textContent = error ? `last error: ${error.code}${error.reason ? ` (${error.reason})` : ''}` : '';
  }

  function renderProtected(path, status, body) {
    const ok = status === 200;
    $('protected-status').textContent = ok
      ? `${path}: 200 verified`
      : `${path}: ${status} refused (${body.code}${body.reason ? `: ${body.reason}` : ''})`;
    $('protected-status').className = ok ? 'ok' : 'refused';
    const user = ok ? body.verifiedUser : null;
    $('verified-user').textContent = user ? `Verified user: ${user.name} <${user.email}> (userId ${user.userId})` : '';
    $('product-access').textContent = user
      ? `Product access: ${user.productAccess.map((p) => p.productId).join(', ') || 'none'}`
      : '';
    $('protected-body').hidden = false;
    $('protected-body').textContent = JSON.stringify(body, null, 2);
  }

  async function call(path, token) {
    const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    renderProtected(path, res.status, await res.json());
  }

  Verigate.on('userChange', renderSdk);
  Verigate.ready.then(() => renderSdk(Verigate.user));

  $('sign-in').addEventListener('click', async () => {
    const { identityToken } = await (await fetch('/demo/identity-token')).json();
    renderSdk(await Verigate.identify(identityToken));
  });
  $('call-protected').addEventListener('click', async () => {
    try {
      const token = await Verigate.getUserVerificationToken();
      if (token) lastToken = token;
      await call('/api/reports', token);
    } catch (err) {
      $('protected-status').textContent = `could not get a token: ${err.code || err}`;
    }
  });
  $('call-analytics').addEventListener('click', async () => {
    await call('/api/analytics', await Verigate.getUserVerificationToken());
  });
  $('sign-out').addEventListener('click', async () => {
    await Verigate.resetUser();
    renderSdk(null);
  });
  $('replay-token').addEventListener('click', async () => {
    await call('/api/reports', lastToken);
  });
})();

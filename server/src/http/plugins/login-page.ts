// The sign-in page a browser from another device sees before anything else: one self-contained HTML file (no UI
// build needed, no outside requests), served with a strict Content-Security-Policy that allows only its own
// inline script and style.
import { createHash } from 'node:crypto';

const style = `
body{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.4 system-ui,sans-serif;background:#16181d;color:#e6e6e6}
form{width:min(20rem,90vw);display:grid;gap:.75rem;padding:1.5rem;border-radius:.75rem;background:#22252c}
h1{margin:0 0 .25rem;font-size:1.4rem}
label{display:grid;gap:.25rem;font-size:.9rem;color:#b8bcc6}
input{font:inherit;padding:.6rem;border-radius:.4rem;border:1px solid #444a55;background:#16181d;color:inherit}
button{font:inherit;padding:.6rem;border:0;border-radius:.4rem;background:#6b8afd;color:#fff;cursor:pointer}
button:disabled{opacity:.6}
p{margin:0;min-height:1.4em;color:#ff8f8f;font-size:.9rem}
`;

const script = `
const form = document.querySelector('form');
const user = document.getElementById('user');
const password = document.getElementById('password');
const message = document.querySelector('p');
user.value = localStorage.getItem('easel.name') || '';
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  form.querySelector('button').disabled = true;
  message.textContent = '';
  try {
    const body = { password: password.value };
    if (user.value.trim()) body.name = user.value.trim();
    const res = await fetch('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
    if (res.ok) {
      localStorage.setItem('easel.name', user.value.trim());
      location.replace(location.pathname === '/login' ? '/' : location.href);
      return;
    }
    const data = await res.json().catch(() => null);
    message.textContent = (data && data.error && data.error.message) || 'Sign-in failed (' + res.status + ')';
  } catch {
    message.textContent = 'Easel cannot be reached.';
  }
  form.querySelector('button').disabled = false;
  password.select();
});
`;

const digest = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export const loginPageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in · Easel</title>
<style>${style}</style>
</head>
<body>
<form>
<h1>Easel</h1>
<label>Your name <small>(shown on your jobs)</small><input id="user" autocomplete="nickname" maxlength="40"></label>
<label>Access password<input id="password" type="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
<p role="alert"></p>
</form>
<script>${script}</script>
</body>
</html>
`;

export const loginPageHeaders: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${digest(script)}`,
    `style-src ${digest(style)}`,
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '),
};

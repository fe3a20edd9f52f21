import { h } from '../dom.js';

/** The token prompt. `submit` rejects with a message for people when the token is refused. */
export function showSignIn(submit: (token: string) => Promise<void>): void {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'API token', required: true, 'aria-label': 'API token' });
  const error = h('p', { class: 'gp-signin-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'gp-signin' },
    h('h1', {}, 'GridPatrol'),
    h('p', {}, 'Sign in with an API token (the admin token, or one an admin issued for you). It is kept only in this browser tab.'),
    input, button, error);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    button.disabled = true;
    error.textContent = '';
    submit(input.value).then(
      () => form.remove(),
      (err: unknown) => {
        error.textContent = (err as Error).message;
        button.disabled = false;
        input.select();
      },
    );
  });
  document.body.replaceChildren(form);
  input.focus();
}

import { startDashboard } from './app.js';
import { forgetToken, savedToken, saveToken, signIn } from './session.js';
import { showSignIn } from './ui/signin.js';

/** Entry point: sign in (a token kept for this tab), then the dashboard for that token's role. */
async function boot(): Promise<void> {
  const kept = savedToken();
  if (kept) {
    try {
      return startDashboard(await signIn(kept));
    } catch {
      forgetToken();
    }
  }
  showSignIn(async (token) => {
    const session = await signIn(token);
    saveToken(token.trim());
    startDashboard(session);
  });
}

void boot();

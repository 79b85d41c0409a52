// A real OpenID provider for the sign-in tests: panva's oidc-provider (OpenID-certified),
// on loopback, with one confidential client (the gateway) and the demo users' claims.
// Usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Prints "ready <issuer>" on stdout once it listens. Test use only: the login form is the
// library's development form (any password), never a deployment's.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// Who may sign in, and the claims the gateway maps to its role and organisation.
const USERS = {
  'erin.ehe': { organisation: 'nyorks', groups: ['ehe-officers'] },
  'iris.ig': { organisation: 'nyorks', groups: ['information-governance', 'staff'] },
  'olly.outsider': { organisation: 'elsewhere', groups: ['ehe-officers'] },
  'nora.norole': { organisation: 'nyorks', groups: ['canteen'] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'organisation', 'groups'] },
  conformIdTokenClaims: false, // the profile claims go in the ID token, as Keycloak and Entra put them
  cookies: { keys: ['test-only-cookie-key'] },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() { return { sub: id, preferred_username: id, ...user }; },
    };
  },
  // A first-party client: no consent page (the user's organisation consented for them).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
});

const server = provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

/**
 * Decentralised NATS auth for tests, without `nsc`: an operator, an account
 * and a user, their JWTs signed here with NKeys (the documented JWT layout:
 * `base64url(header).base64url(claims).base64url(ed25519 signature)`, header
 * `{"typ":"JWT","alg":"ed25519-nkey"}`), the server configuration that trusts
 * the operator (a memory resolver preloaded with the account), and the user's
 * `.creds` file text (JWT and seed between the standard armour lines).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

/** Sign `claims` (issuer `signer`) as a NATS JWT. */
function signJwt(signer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = {
    iat: Math.floor(Date.now() / 1000),
    iss: signer.getPublicKey(),
    name,
    sub: subject,
    nats,
  };
  // The JWT id: a hash of the claims without it (base32 in nsc; any unique string is accepted).
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('hex').toUpperCase().slice(0, 52);
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = Buffer.from(signer.sign(new TextEncoder().encode(`${header}.${body}`))).toString('base64url');
  return `${header}.${body}.${signature}`;
}

/** The text of a `.creds` file for a user JWT and its seed. */
export function credsFile(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

const unlimited = { subs: -1, data: -1, payload: -1 };

export interface OperatorSetup {
  /** Lines for the server's config (`extraConfig`): the operator and a memory resolver with the account. */
  serverConfig: string;
  /** A `.creds` file of a user of the trusted account, written in `dir`. */
  credsPath: string;
  /** A `.creds` file of a user of an account the server does not know (signed by a stranger), in `dir`. */
  strangerCredsPath: string;
}

/**
 * An operator trusted by the server, its system account, one account with
 * JetStream enabled (so the registry works), and a user of it; files are
 * written in `dir`.
 */
export function operatorSetup(dir: string): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = signJwt(operator, operator.getPublicKey(), 'troupe-test-operator', {
    type: 'operator',
    version: 2,
  });
  const accountJwt = signJwt(operator, account.getPublicKey(), 'troupe-test-account', {
    type: 'account',
    version: 2,
    limits: {
      ...unlimited,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    },
  });
  const userJwt = signJwt(account, user.getPublicKey(), 'troupe-test-user', {
    type: 'user',
    version: 2,
    pub: {},
    sub: {},
    ...unlimited,
  });
  // JetStream in operator mode needs a system account.
  const system = nkeys.createAccount();
  const systemJwt = signJwt(operator, system.getPublicKey(), 'SYS', { type: 'account', version: 2 });
  const strangerAccount = nkeys.createAccount();
  const stranger = nkeys.createUser();
  const strangerJwt = signJwt(strangerAccount, stranger.getPublicKey(), 'stranger', {
    type: 'user',
    version: 2,
    ...unlimited,
  });
  const operatorFile = join(dir, 'operator.jwt');
  writeFileSync(operatorFile, operatorJwt);
  const credsPath = join(dir, 'user.creds');
  writeFileSync(credsPath, credsFile(userJwt, new TextDecoder().decode(user.getSeed())), { mode: 0o600 });
  const strangerCredsPath = join(dir, 'stranger.creds');
  writeFileSync(strangerCredsPath, credsFile(strangerJwt, new TextDecoder().decode(stranger.getSeed())), {
    mode: 0o600,
  });
  return {
    serverConfig: [
      `operator: ${JSON.stringify(operatorFile)}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}, ${system.getPublicKey()}: ${JSON.stringify(systemJwt)} }`,
    ].join('\n'),
    credsPath,
    strangerCredsPath,
  };
}

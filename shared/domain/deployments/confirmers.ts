/**
 * Who may confirm what a merge asks for (a plan, an instance delete): a verified person who is
 * neither its pusher nor an author of its commits. GitHub logins are claims of GitHub's; they
 * count only through the configured map to Google identities, and a login that is not mapped
 * cannot be told apart from the confirmer, so its merge cannot be confirmed until it is. Pure.
 */

/** GitHub login (case-insensitive) → Google email. */
export type GitHubIdentities = Readonly<Record<string, string>>;

/** `octocat=alice@example.com,hubot=bob@example.com` (MI_GITHUB_IDENTITIES) as a map; logins lower-cased. */
export function parseGitHubIdentities(text: string | undefined): GitHubIdentities {
  const map: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [login, email, ...rest] = pair.split('=').map((part) => part.trim());
    if (login === undefined || email === undefined || rest.length > 0 || login === '' || !/^[^\s@]+@[^\s@]+$/.test(email)) {
      throw new Error(`MI_GITHUB_IDENTITIES: expected login=email pairs separated by commas, got "${pair}"`);
    }
    map[login.toLowerCase()] = email.toLowerCase();
  }
  return map;
}

/** Why `caller` may not confirm a change pushed by `mergedBy` and written by `authors`; undefined when they may. */
export function confirmerProblem(change: { mergedBy: string; authors?: readonly string[] }, caller: string, identities: GitHubIdentities): string | undefined {
  const people = [{ login: change.mergedBy, did: 'pushed this merge' }, ...(change.authors ?? []).map((login) => ({ login, did: 'wrote a commit of this merge' }))];
  for (const { login, did } of people) {
    const email = identities[login.toLowerCase()];
    if (email === undefined) {
      return `GitHub user ${login} (who ${did}) is not mapped to a Google identity, so nobody can be shown to be someone else: add ${login}=<email> to mi:githubIdentities`;
    }
    if (email === caller.toLowerCase()) return `${caller} ${did} (as GitHub user ${login}) and cannot confirm it: a second person must`;
  }
  return undefined;
}

import { describe, expect, it } from 'vitest';
import { confirmerProblem, parseGitHubIdentities } from '../../../shared/domain/deployments/confirmers.js';

const identities = parseGitHubIdentities('Octocat=alice@example.com, hubot=bob@example.com');

describe('who may confirm a merge', () => {
  it('a verified person who neither pushed nor wrote it', () => {
    expect(confirmerProblem({ mergedBy: 'octocat', authors: ['hubot'] }, 'carol@example.com', identities)).toBeUndefined();
  });

  it('not its pusher, whatever the case of the login', () => {
    expect(confirmerProblem({ mergedBy: 'OCTOCAT' }, 'Alice@Example.com', identities)).toBe('Alice@Example.com pushed this merge (as GitHub user OCTOCAT) and cannot confirm it: a second person must');
  });

  it('not an author of one of its commits', () => {
    expect(confirmerProblem({ mergedBy: 'octocat', authors: ['hubot'] }, 'bob@example.com', identities)).toMatch(/bob@example.com wrote a commit of this merge/);
  });

  it('nobody, while a login of the change is not mapped: it cannot be told apart from the confirmer', () => {
    expect(confirmerProblem({ mergedBy: 'octocat', authors: ['mallory'] }, 'carol@example.com', identities)).toBe(
      'GitHub user mallory (who wrote a commit of this merge) is not mapped to a Google identity, so nobody can be shown to be someone else: add mallory=<email> to mi:githubIdentities',
    );
  });

  it('refuses a map it cannot read, naming the pair', () => {
    expect(() => parseGitHubIdentities('octocat:alice@example.com')).toThrow('MI_GITHUB_IDENTITIES: expected login=email pairs separated by commas, got "octocat:alice@example.com"');
    expect(parseGitHubIdentities(undefined)).toEqual({});
  });
});

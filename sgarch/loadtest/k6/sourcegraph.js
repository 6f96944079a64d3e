// Requests, tags and checks shared by every sgarch load-test profile.
//
// Self-contained on purpose: k6 resolves remote imports (https://jslib.k6.io/...) at run time, which needs
// the internet and runs code nobody reviewed. Only k6's built-in modules are imported here.
//
// Every request is tagged with `search_type` (literal, regexp, structural, unindexed, highlight),
// `query_class` (regular, expensive) and `endpoint` (stream, graphql), and gets exactly one check, so
// `checks{search_type:X}` counts requests and `http_req_waiting{search_type:X}` is time to first byte.

import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';

// GraphQL answers HTTP 200 even when it fails; this rate tells frontend trouble from search trouble.
export const graphqlErrors = new Rate('graphql_errors');
// Running count of failed requests, read by `sgarch loadtest` for its progress line.
export const failedRequests = new Counter('failed_requests');

const SEARCH_GRAPHQL = 'query ($query: String!) { search(query: $query) { results { matchCount } } }';
const HIGHLIGHT_GRAPHQL =
  'query ($repoName: String!, $commitID: String!, $filePath: String!) { repository(name: $repoName) ' +
  '{ commit(rev: $commitID) { file(path: $filePath) { isDirectory richHTML } } } }';
const MATCH_PREFIX = 'data: [{"type":"';

// The pattern type a search type runs with; unindexed is a literal search that skips the index.
export function patternType(searchType) {
  return searchType === 'unindexed' ? 'literal' : searchType;
}

// The query text as sent: the section of the query file decides the pattern type and index use.
export function composeQuery(text, searchType, endpoint) {
  let q = text;
  if (endpoint === 'graphql') {
    q += ' patterntype:' + patternType(searchType);
  }
  if (searchType === 'unindexed') {
    q += ' index:no';
  }
  return q;
}

// Matches of a stream-search response: one entry per result carrying repository, commit and path.
export function parseMatches(body) {
  const matches = [];
  if (typeof body !== 'string') {
    return matches;
  }
  for (const line of body.split('\n')) {
    if (!line.startsWith(MATCH_PREFIX)) {
      continue;
    }
    let events;
    try {
      events = JSON.parse(line.slice('data: '.length));
    } catch (e) {
      continue;
    }
    for (const m of events) {
      if (m && m.repository && m.commit && m.path) {
        matches.push({ repository: m.repository, commit: m.commit, path: m.path });
      }
    }
  }
  return matches;
}

function hasGraphqlErrors(res) {
  try {
    const body = res.json();
    return Boolean(body && body.errors && body.errors.length);
  } catch (e) {
    return true;
  }
}

export class Client {
  constructor(baseURL, token, timeout) {
    this.baseURL = baseURL;
    // Kept only in request headers; never logged, never put in tags.
    this.headers = { Authorization: 'token ' + token };
    this.timeout = timeout;
  }

  params(tags, extraHeaders) {
    return {
      headers: Object.assign({}, this.headers, extraHeaders || {}),
      timeout: this.timeout,
      tags: tags,
      responseType: 'text',
    };
  }

  record(res, tags, ok) {
    check(res, { 'request ok': () => ok }, tags);
    if (!ok) {
      failedRequests.add(1, tags);
    }
    return ok;
  }

  // Stream search (server-sent events); returns the matches of a successful search.
  streamSearch(text, searchType, queryClass) {
    const tags = { search_type: searchType, query_class: queryClass, endpoint: 'stream', name: 'stream-search' };
    const q = encodeURIComponent(composeQuery(text, searchType, 'stream'));
    const url = `${this.baseURL}/.api/search/stream?q=${q}&v=V2&t=${patternType(searchType)}&display=10`;
    const res = http.get(url, this.params(tags, { Accept: 'text/event-stream' }));
    const ok = this.record(res, tags, res.status === 200);
    return ok ? parseMatches(res.body) : [];
  }

  graphql(query, variables, tags) {
    const body = JSON.stringify({ query: query, variables: variables });
    const res = http.post(`${this.baseURL}/.api/graphql`, body, this.params(tags, { 'Content-Type': 'application/json' }));
    let ok = res.status === 200;
    if (ok) {
      const failed = hasGraphqlErrors(res);
      graphqlErrors.add(failed, tags);
      ok = !failed;
    }
    return this.record(res, tags, ok);
  }

  graphqlSearch(text, searchType, queryClass) {
    const tags = { search_type: searchType, query_class: queryClass, endpoint: 'graphql', name: 'graphql-search' };
    this.graphql(SEARCH_GRAPHQL, { query: composeQuery(text, searchType, 'graphql') }, tags);
  }

  // The request a browser sends to render one search result with syntax highlighting.
  highlight(match) {
    const tags = { search_type: 'highlight', query_class: 'regular', endpoint: 'graphql', name: 'highlight' };
    const variables = { repoName: match.repository, commitID: match.commit, filePath: match.path };
    this.graphql(HIGHLIGHT_GRAPHQL, variables, tags);
  }
}

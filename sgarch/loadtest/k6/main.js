// Entry point of every sgarch load-test profile (load, stress, search).
//
// `sgarch loadtest run` decides everything in Python and writes it to a plan file named by SGARCH_PLAN:
// the k6 options (scenario, thresholds), the queries, think times and where to write the summary. The
// access token arrives only through the environment (SGARCH_TOKEN), never through argv or the plan.

import { sleep } from 'k6';
import { Client } from './sourcegraph.js';

const plan = JSON.parse(open(__ENV.SGARCH_PLAN));

export const options = plan.options;

const client = new Client(plan.url, __ENV.SGARCH_TOKEN || '', plan.request_timeout);
const SEARCH_TYPES = ['literal', 'regexp', 'structural', 'unindexed'];
const AVAILABLE = SEARCH_TYPES.filter((t) => queriesOf(t).length > 0);

function queriesOf(searchType) {
  const section = plan.queries[searchType] || {};
  const out = [];
  for (const cls of ['regular', 'expensive']) {
    for (const q of section[cls] || []) {
      out.push({ text: q, cls: cls });
    }
  }
  return out;
}

function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

function thinkTime(maxSeconds) {
  if (maxSeconds > 0) {
    sleep(Math.random() * maxSeconds);
  }
}

// 70% literal on the stream API, 20% regexp on the stream API, 10% any type on either API, by VU number.
function chooseSearch() {
  const bucket = __VU % 10;
  let searchType = 'literal';
  let endpoint = 'stream';
  if (bucket === 7 || bucket === 8) {
    searchType = 'regexp';
  } else if (bucket === 9) {
    searchType = pick(SEARCH_TYPES);
    endpoint = pick(['stream', 'graphql']);
  }
  if (!AVAILABLE.includes(searchType)) {
    searchType = AVAILABLE.includes('literal') ? 'literal' : AVAILABLE[0];
  }
  return { searchType: searchType, endpoint: endpoint };
}

function mixedSearch() {
  const choice = chooseSearch();
  const query = pick(queriesOf(choice.searchType));
  if (choice.endpoint === 'graphql') {
    client.graphqlSearch(query.text, choice.searchType, query.cls);
    return;
  }
  for (const match of client.streamSearch(query.text, choice.searchType, query.cls)) {
    client.highlight(match);
  }
}

export function load() {
  thinkTime(plan.think_time_seconds[0]);
  mixedSearch();
  thinkTime(plan.think_time_seconds[1]);
}

export function stress() {
  mixedSearch();
}

// One pass over the whole query set; latency only, so no highlight follow-ups.
export function search() {
  for (const searchType of AVAILABLE) {
    const section = plan.queries[searchType];
    for (const cls of ['regular', 'expensive']) {
      for (const text of section[cls] || []) {
        client.streamSearch(text, searchType, cls);
      }
    }
  }
}

export function handleSummary(data) {
  return { [plan.summary_path]: JSON.stringify(data) };
}

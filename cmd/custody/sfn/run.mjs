// run.mjs executes a state machine definition with aws-local-stepfunctions,
// a real Amazon States Language interpreter, and hands every Task state to
// the custody local runner, which runs that function's Go handler behind a
// local Lambda Runtime API.
//
// usage: node run.mjs <definition.json> <input.json> <invoke-url> <execution-arn>
//
// It prints one JSON object a line on stdout: the interpreter's event log
// (StateEntered, StateExited, StateFailed, StateRetried, StateCaught,
// MapIteration*, Execution*), and ends with {"type":"Result", ...}.
// Exit status: 0 when the execution succeeded, 1 when it failed, 2 on a
// usage or runner error.
import { readFile } from 'node:fs/promises';

// aws-local-stepfunctions 3.x uses Promise.withResolvers (Node 22); Node 20
// lacks it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { StateMachine } = await import('aws-local-stepfunctions');

const [definitionPath, inputPath, invokeURL, executionArn] = process.argv.slice(2);
if (!definitionPath || !inputPath || !invokeURL) {
  console.error('usage: node run.mjs <definition.json> <input.json> <invoke-url> [execution-arn]');
  process.exit(2);
}

const definition = JSON.parse(await readFile(definitionPath, 'utf8'));
const input = JSON.parse(await readFile(inputPath, 'utf8'));

// Every Task state, at any depth (Map item processors, Parallel branches),
// is keyed by its name: the interpreter looks overrides up by state name.
function taskStates(states, out = {}) {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state.Type === 'Task') out[name] = state;
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) taskStates(processor.States, out);
    for (const branch of state.Branches ?? []) taskStates(branch.States, out);
  }
  return out;
}

async function invoke(functionRef, payload) {
  const resp = await fetch(`${invokeURL}?fn=${encodeURIComponent(functionRef)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  if (!resp.ok) {
    const err = new Error(`local runner answered ${resp.status}: ${await resp.text()}`);
    err.name = 'Runtime.InvokeError';
    throw err;
  }
  const reply = await resp.json();
  if (reply.error) {
    // Retry and Catch match on error.name: it is the Lambda error type.
    const err = new Error(reply.error.errorMessage);
    err.name = reply.error.errorType;
    throw err;
  }
  return reply.ok;
}

// The interpreter has no task tokens: $$.Task.Token is this placeholder
// in the context, and each .waitForTaskToken task replaces it with a
// fresh token, registers that with the local runner, invokes the function
// with it, and polls the runner for the answer (SendTaskSuccess or
// SendTaskFailure, sent to the gate). The interpreter's own TimeoutSeconds
// on the task times the wait out (States.Timeout), as Step Functions does.
const TOKEN_PLACEHOLDER = 'custody-local-task-token';
const base = invokeURL.replace(/\/invoke$/, '');
const stopPolling = new AbortController();

function withToken(v, token) {
  if (v === TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(v)) return v.map((x) => withToken(x, token));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withToken(x, token)]));
  }
  return v;
}

async function waitForToken(params) {
  const token = `local-${crypto.randomUUID()}`;
  const payload = withToken(params.Payload, token);
  const q = `token=${encodeURIComponent(token)}`;
  const started = await fetch(`${base}/task/start?${q}`, { method: 'POST', body: JSON.stringify(payload) });
  if (!started.ok) throw Object.assign(new Error(`local runner: ${started.status}`), { name: 'Runtime.InvokeError' });
  await invoke(params.FunctionName, payload);
  while (!stopPolling.signal.aborted) {
    const resp = await fetch(`${base}/task/result?${q}`, { signal: stopPolling.signal });
    if (resp.status === 200) {
      const reply = await resp.json();
      if (reply.error) throw Object.assign(new Error(reply.error.errorMessage), { name: reply.error.errorType });
      return reply.ok;
    }
    if (resp.status !== 204) throw Object.assign(new Error(`local runner: ${resp.status}`), { name: 'Runtime.InvokeError' });
    await new Promise((r) => setTimeout(r, 300));
  }
  throw Object.assign(new Error('the execution ended'), { name: 'States.Runtime' });
}

const handlers = {};
for (const [name, state] of Object.entries(taskStates(definition.States))) {
  const resource = String(state.Resource);
  if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
    handlers[name] = (params) => waitForToken(params);
  } else if (resource.startsWith('arn:aws:states:::lambda:invoke')) {
    // The SDK-integration form: the effective input is {FunctionName, Payload}.
    handlers[name] = async (params) => ({ Payload: await invoke(params.FunctionName, params.Payload) });
  } else if (resource.includes(':lambda:') && resource.includes(':function:')) {
    handlers[name] = (payload) => invoke(resource, payload);
  } else {
    console.error(`Task state ${name} has a resource this runner cannot run: ${resource}`);
    process.exit(2);
  }
}

const name = (executionArn ?? 'local').split(':').pop();
const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
const execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers: handlers },
  context: {
    Execution: { Id: executionArn ?? 'local', Name: name, Input: input, StartTime: new Date().toISOString() },
    StateMachine: { Id: 'local', Name: 'custody' },
    Task: { Token: TOKEN_PLACEHOLDER },
  },
});

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const consume = (async () => {
  for await (const event of execution.eventLogs) print(event);
})();

let status = 0;
try {
  const output = await execution.result;
  await consume;
  print({ type: 'Result', status: 'SUCCEEDED', output });
} catch (err) {
  await consume.catch(() => {});
  print({ type: 'Result', status: 'FAILED', error: err.name, cause: String(err.message ?? err) });
  status = 1;
}
// Not process.exit: on a pipe, stdout is written asynchronously, and
// exiting at once cuts a large last line (the Result) at the pipe's buffer.
// Node exits with this status once everything is written.
// A task still waiting (its state timed out) stops polling.
stopPolling.abort();
process.exitCode = status;

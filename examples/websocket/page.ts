/**
 * The page `GET /` serves: it opens one WebSocket to /echo and one to /chat on the same host, sends
 * what is typed to both, and shows the echo, the room's messages and the room's head count. Plain
 * DOM, no build step, no external resources (the page works offline and under a strict CSP).
 */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>portico WebSocket</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  form { display: flex; gap: .5rem; margin: 1rem 0; }
  input { flex: 1; padding: .4rem; font: inherit; }
  button { padding: .4rem 1rem; font: inherit; }
  .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  ol { list-style: none; padding: .5rem; margin: 0; min-height: 8rem; border: 1px solid #ccc; border-radius: 4px; overflow-wrap: anywhere; }
  .meta { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>portico WebSocket</h1>
<p class="meta">Status: <span id="status">connecting</span> · in the chat room: <span id="count">?</span></p>
<form id="form">
  <input id="message" autocomplete="off" placeholder="Type a message" aria-label="message">
  <button id="send" type="submit">Send</button>
</form>
<div class="cols">
  <section><h2 class="meta">Echo (/echo)</h2><ol id="echo-log"></ol></section>
  <section><h2 class="meta">Chat room (/chat)</h2><ol id="chat-log"></ol></section>
</div>
<script>
  const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  const $ = (id) => document.getElementById(id);
  function add(list, text) {
    const li = document.createElement('li');
    li.textContent = text;
    $(list).appendChild(li);
  }
  let open = 0;
  function opened() {
    open++;
    if (open === 2) $('status').textContent = 'open';
  }
  function closed(event) {
    $('status').textContent = 'closed (' + event.code + ')';
  }
  const echo = new WebSocket(base + '/echo');
  echo.onopen = opened;
  echo.onclose = closed;
  echo.onmessage = (event) => add('echo-log', String(event.data));
  const chat = new WebSocket(base + '/chat');
  chat.onopen = opened;
  chat.onclose = closed;
  chat.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === 'count') $('count').textContent = String(msg.count);
    else if (msg.type === 'chat') add('chat-log', '#' + msg.from + ': ' + msg.text);
  };
  $('form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('message').value;
    if (text === '') return;
    echo.send(text);
    chat.send(text);
    $('message').value = '';
  });
</script>
</body>
</html>
`;

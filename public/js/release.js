/*
 * The release page, live: log lines, step colours, status and chat arrive
 * through the poll, in the order the console stored them, for everyone
 * watching. A huge log stays usable: the page keeps a window of lines in
 * the document (older ones are dropped and can be loaded again on demand),
 * appends each answer in one go, and only scrolls while "follow" is on.
 * Without JavaScript the page shows the state and the log so far with a
 * refresh link.
 */
(function () {
  'use strict';

  var log = document.getElementById('log');
  if (!log || !window.Longship || !window.Longship.poll) return;
  var MAX_LINES = 5000;
  var TRIM_MARGIN = 1000;
  var EARLIER_PAGE = 500;
  var releaseId = log.getAttribute('data-release');
  var hostFilter = log.getAttribute('data-host-filter') || '';
  var firstSeq = Number(log.getAttribute('data-first'));
  var empty = document.getElementById('log-empty');
  var follow = document.getElementById('log-follow');
  var earlierButton = document.getElementById('log-earlier');
  var hostSelect = document.getElementById('log-host');
  var applyButton = document.getElementById('log-host-apply');
  var flow = document.getElementById('flow');
  var statusBadge = document.getElementById('release-status');
  var cancelForm = document.getElementById('release-cancel');
  var chatForm = document.getElementById('release-chat');
  var chatBody = document.getElementById('chat-body');
  var loadingEarlier = false;
  var sending = false;
  var FINISHED = { success: 1, failed: 1, cancelled: 1, interrupted: 1 };

  function csrfToken() {
    var meta = document.getElementsByName('csrf-token')[0];
    return meta ? meta.getAttribute('content') : '';
  }

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    node.appendChild(document.createTextNode(value));
    return node;
  }

  function shows(host) {
    return !hostFilter || host === hostFilter;
  }

  /** One stored or live event as a line of the log, or null for events that are not lines (steps). */
  function lineFor(seq, data) {
    var item;
    if (data.kind === 'step') return null;
    if (data.kind === 'chat') {
      item = document.createElement('li');
      item.className = 'line chat-line';
      item.appendChild(text('span', 'author', data.author || 'deleted user'));
      item.appendChild(document.createTextNode(' '));
      var time = text('time', '', (data.at || '').substring(11, 19));
      time.setAttribute('datetime', data.at || '');
      item.appendChild(time);
      item.appendChild(document.createTextNode(' '));
      item.appendChild(text('span', 'text', data.body));
    } else if (data.kind === 'status') {
      item = text('li', 'line status-line', 'status: ' + data.body);
    } else {
      if (!shows(data.host || '')) return null;
      item = document.createElement('li');
      item.className = 'line stream-' + (data.stream || 'info');
      item.setAttribute('data-host', data.host || '');
      if (data.host) {
        item.appendChild(text('span', 'host', data.host));
        item.appendChild(document.createTextNode(' '));
      }
      item.appendChild(text('span', 'text', data.body));
    }
    item.id = 'e' + seq;
    return item;
  }

  function setState(node, state) {
    if (!node) return;
    node.className = node.className.replace(/\bstate-[a-z]+\b/, 'state-' + state);
    var label = node.getElementsByTagName('span');
    for (var i = 0; i < label.length; i++) if (label[i].className === 'state') label[i].innerHTML = state;
    node.setAttribute('title', (node.getAttribute('title') || '').replace(/: [a-z]+$/, ': ' + state));
  }

  function setStatus(node, status) {
    if (!node) return;
    node.className = 'status status-' + status;
    node.innerHTML = '';
    node.appendChild(document.createTextNode(status));
  }

  function onStep(data) {
    if (data.stream === 'host') {
      setStatus(document.getElementById('host-status-' + data.host), data.body);
      return;
    }
    setState(document.getElementById('node-' + (data.host || '') + '--' + data.stream), data.body);
  }

  function onStatus(status) {
    setStatus(statusBadge, status);
    if (FINISHED[status]) {
      if (flow) flow.className = 'flow finished';
      if (cancelForm && cancelForm.parentNode) cancelForm.parentNode.removeChild(cancelForm);
    }
  }

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  /**
   * Keeps the document small: the oldest lines go, and can come back with
   * "load earlier". Trimming waits for a margin of extra lines and removes
   * them in one range operation: one node at a time, per answer, was the
   * page's whole cost on a 100,000-line hook.
   */
  function trim() {
    var items = log.getElementsByTagName('li');
    var extra = items.length - MAX_LINES;
    if (extra < TRIM_MARGIN) return;
    if (document.createRange) {
      var range = document.createRange();
      range.setStartBefore(items[0]);
      range.setEndAfter(items[extra - 1]);
      range.deleteContents();
    } else {
      // the list is live: items[0] is always the oldest line left
      for (var i = 0; i < extra; i++) log.removeChild(items[0]);
    }
    var first = items[0];
    if (first) firstSeq = Number(first.id.substring(1));
    if (earlierButton) earlierButton.removeAttribute('hidden');
  }

  function append(events) {
    var stick = follow ? follow.checked : atBottom();
    var fragment = document.createDocumentFragment();
    var added = 0;
    for (var i = 0; i < events.length; i++) {
      var data = events[i].data;
      if (data.kind === 'step') onStep(data);
      else if (data.kind === 'status') onStatus(data.body);
      if (document.getElementById('e' + events[i].seq)) continue;
      var item = lineFor(events[i].seq, data);
      if (item) { fragment.appendChild(item); added++; }
    }
    if (!added) return;
    log.appendChild(fragment);
    if (empty) empty.setAttribute('hidden', 'hidden');
    trim();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function getJson(url, callback) {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', url, true);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var json = null;
      try { json = JSON.parse(xhr.responseText); } catch (ignored) { json = null; } // eslint-disable-line no-unused-vars
      callback(xhr.status === 200 && json ? null : new Error((json && json.error) || 'The server answered ' + xhr.status), json);
    };
    xhr.send(null);
  }

  function loadEarlier() {
    if (loadingEarlier || firstSeq <= 1) return;
    loadingEarlier = true;
    var url = '/releases/' + releaseId + '/events?before=' + firstSeq + '&limit=' + EARLIER_PAGE + (hostFilter ? '&host=' + encodeURIComponent(hostFilter) : '');
    getJson(url, function (err, json) {
      loadingEarlier = false;
      if (err) { earlierButton.innerHTML = 'Load earlier lines (failed, try again)'; return; }
      var fragment = document.createDocumentFragment();
      var events = json.events;
      var keepFrom = log.scrollHeight - log.scrollTop;
      for (var i = 0; i < events.length; i++) {
        if (document.getElementById('e' + events[i].seq)) continue;
        var item = lineFor(events[i].seq, events[i]);
        if (item) fragment.appendChild(item);
      }
      log.insertBefore(fragment, log.firstChild);
      log.scrollTop = log.scrollHeight - keepFrom;
      firstSeq = events.length ? events[0].seq : 1;
      if (events.length < EARLIER_PAGE || firstSeq <= 1) earlierButton.setAttribute('hidden', 'hidden');
    });
  }

  // the server renders the chosen host's own tail window (its lines may be far back in a long log)
  function applyHostFilter() {
    window.location.href = '/releases/' + releaseId + (hostSelect.value ? '?host=' + encodeURIComponent(hostSelect.value) : '') + '#log-title';
  }

  function sendChat() {
    if (sending) return;
    var value = chatBody.value;
    if (!value.replace(/\s+/g, '')) return;
    sending = true;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/releases/' + releaseId + '/messages', true);
    xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      sending = false;
      // the message itself arrives through the poll, in its place in the stream
      if (xhr.status >= 200 && xhr.status < 300) chatBody.value = '';
      else window.alert('The message was not sent (' + xhr.status + ')');
    };
    xhr.send('body=' + encodeURIComponent(value));
  }

  if (earlierButton) earlierButton.onclick = loadEarlier;
  if (hostSelect) {
    hostSelect.onchange = applyHostFilter;
    if (applyButton) applyButton.style.display = 'none';
  }
  if (chatForm && chatBody) {
    chatForm.onsubmit = function () { sendChat(); return false; };
    chatBody.onkeydown = function (event) {
      event = event || window.event;
      if (event.keyCode === 13 && !event.shiftKey) { sendChat(); return false; }
      return true;
    };
  }
  log.scrollTop = log.scrollHeight;

  window.Longship.poll.subscribe(log.getAttribute('data-topic'), Number(log.getAttribute('data-cursor')), {
    events: append,
    // the stream could not be filled (it never happens for stored release events, but be safe)
    reset: function () { window.location.reload(); }
  });
}());

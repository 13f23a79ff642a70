/*
 * The team room, live: messages arrive through the poll (the same order for
 * everyone, nothing lost across a network cut), and the form posts by ajax.
 * Without JavaScript the page shows the history, a refresh link and a plain form.
 */
(function () {
  'use strict';

  var list = document.getElementById('room-messages');
  var form = document.getElementById('room-form');
  if (!list || !form || !window.Longship || !window.Longship.poll) return;
  var textarea = document.getElementById('room-body');
  var empty = document.getElementById('room-empty');
  var refresh = document.getElementById('room-refresh');
  var sending = false;

  function stamp(iso) {
    // the same "YYYY-MM-DD HH:MM" (UTC) as the server renders
    return iso.substring(0, 16).replace('T', ' ');
  }

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    node.appendChild(document.createTextNode(value));
    return node;
  }

  function nearBottom() {
    var doc = document.documentElement;
    var scrolled = (window.pageYOffset || doc.scrollTop) + (window.innerHeight || doc.clientHeight);
    return doc.scrollHeight - scrolled < 120;
  }

  function append(message) {
    if (document.getElementById('m' + message.id)) return;
    var item = document.createElement('li');
    item.id = 'm' + message.id;
    item.setAttribute('data-seq', String(message.id));
    item.className = 'new';
    item.appendChild(text('span', 'author', message.author || 'deleted user'));
    item.appendChild(document.createTextNode(' '));
    var time = text('time', '', stamp(message.at));
    time.setAttribute('datetime', message.at);
    item.appendChild(time);
    item.appendChild(text('div', 'body', message.body));
    list.appendChild(item);
  }

  function showError(message) {
    var node = document.getElementById('room-body-error');
    if (!node) {
      node = document.createElement('p');
      node.id = 'room-body-error';
      node.className = 'error';
      node.setAttribute('role', 'alert');
      textarea.parentNode.insertBefore(node, textarea.nextSibling);
    }
    node.innerHTML = '';
    if (message) node.appendChild(document.createTextNode(message));
    node.style.display = message ? 'block' : 'none';
  }

  function csrfToken() {
    var meta = document.getElementsByName('csrf-token')[0];
    return meta ? meta.getAttribute('content') : '';
  }

  function send() {
    if (sending) return;
    var value = textarea.value;
    if (!value.replace(/\s+/g, '')) { showError('Write a message'); return; }
    sending = true;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/room', true);
    xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      sending = false;
      var json = null;
      try { json = JSON.parse(xhr.responseText); } catch (e) { json = null; } // eslint-disable-line no-unused-vars
      if (xhr.status >= 200 && xhr.status < 300) {
        // the message itself arrives through the poll, in the room's order
        if (textarea.value === value) textarea.value = '';
        showError('');
      } else {
        showError((json && json.error) || (xhr.status ? 'The console answered ' + xhr.status : 'Not sent: the connection is lost. Try again.'));
      }
    };
    xhr.send('body=' + encodeURIComponent(value));
  }

  function onSubmit(event) {
    event = event || window.event;
    if (event.preventDefault) event.preventDefault(); else event.returnValue = false;
    send();
  }

  function onKey(event) {
    event = event || window.event;
    var key = event.keyCode || event.which;
    if (key === 13 && !event.shiftKey) onSubmit(event);
  }

  if (form.addEventListener) {
    form.addEventListener('submit', onSubmit, false);
    textarea.addEventListener('keydown', onKey, false);
  } else {
    form.attachEvent('onsubmit', onSubmit);
    textarea.attachEvent('onkeydown', onKey);
  }
  if (refresh) refresh.style.display = 'none';
  window.scrollTo(0, document.documentElement.scrollHeight);

  window.Longship.poll.subscribe(list.getAttribute('data-topic'), Number(list.getAttribute('data-cursor')), {
    events: function (events) {
      var stick = nearBottom();
      for (var i = 0; i < events.length; i++) append(events[i].data);
      if (empty) empty.style.display = 'none';
      if (stick) window.scrollTo(0, document.documentElement.scrollHeight);
    },
    reset: function () { window.location.reload(); }
  });
}());

/*
 * The long-poll client, ES5 with XMLHttpRequest for old browsers.
 *
 * One poll per tab carries every topic the page watches. Each poll sends, per
 * topic, the last sequence number the page has shown: the server resends what
 * came after it, so an answer lost on the way loses nothing, and the page
 * skips anything it has already shown, so nothing appears twice. Errors back
 * off 1, 2, 4 ... 30 s, with a visible "reconnecting" badge.
 *
 *   Longship.poll.subscribe('room', 41, {
 *     events: function (list) { ... },   // [{topic, seq, data}], in order
 *     reset: function () { ... }         // the gap could not be filled: reload state
 *   });
 */
(function () {
  'use strict';

  var STORE_KEY = 'longship.poll';
  var MAX_BACKOFF = 30;
  var body = document.body;
  var Longship = window.Longship = window.Longship || {};

  var subs = {};
  var topicCount = 0;
  var clientId = body.getAttribute('data-poll-client');
  var boot = body.getAttribute('data-poll-boot');
  // how long the console holds a poll; a poll open much longer is dead (a proxy swallowed it)
  var holdMs = Number(body.getAttribute('data-poll-timeout')) || 25000;
  var stored = load();
  var xhr = null;
  var stopped = false;
  var backoff = 0;
  var retryTimer = null;
  var watchdog = null;
  var sent = 0;
  var badge = null;

  function own(object, key) { return Object.prototype.hasOwnProperty.call(object, key); }

  function storage() {
    try { return window.sessionStorage || null; } catch (e) { return null; } // eslint-disable-line no-unused-vars
  }

  // a tab keeps its client id (and so its server-side queue) across reloads
  function load() {
    var store = storage();
    if (!store) return null;
    try { return JSON.parse(store.getItem(STORE_KEY)); } catch (e) { return null; } // eslint-disable-line no-unused-vars
  }

  function save() {
    var store = storage();
    if (!store) return;
    var cursors = {};
    for (var topic in subs) if (own(subs, topic)) cursors[topic] = subs[topic].cursor;
    try { store.setItem(STORE_KEY, JSON.stringify({ client: clientId, boot: boot, cursors: cursors })); } catch (e) { /* full or private mode: the page still works */ } // eslint-disable-line no-unused-vars
  }

  function newClientId() {
    var id = '';
    while (id.length < 16) id += Math.floor(Math.random() * 2176782336).toString(36);
    return id.substring(0, 16);
  }

  if (stored && stored.client) clientId = stored.client;
  if (!clientId) clientId = newClientId();

  function setState(state, text) {
    body.setAttribute('data-poll-state', state);
    if (state === 'live') {
      if (badge) badge.style.display = 'none';
      return;
    }
    if (!badge) {
      badge = document.createElement('div');
      badge.className = 'poll-state';
      badge.setAttribute('role', 'status');
      body.appendChild(badge);
    }
    badge.innerHTML = '';
    badge.appendChild(document.createTextNode(text));
    badge.style.display = 'block';
  }

  function topics() {
    var out = {};
    for (var topic in subs) if (own(subs, topic)) out[topic] = subs[topic].cursor;
    return out;
  }

  function schedule(seconds) {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = setTimeout(function () { retryTimer = null; poll(); }, seconds * 1000);
  }

  function failed(message) {
    xhr = null;
    backoff = backoff ? Math.min(MAX_BACKOFF, backoff * 2) : 1;
    setState('reconnecting', message + ' Reconnecting in ' + backoff + ' s…');
    schedule(backoff);
  }

  function deliver(answer) {
    var byTopic = {};
    var order = [];
    var i, event, sub, topic;
    boot = answer.boot;
    for (i = 0; i < answer.resets.length; i++) {
      sub = subs[answer.resets[i]];
      if (sub) { sub.cursor = answer.cursors[answer.resets[i]]; sub.resetting = true; }
    }
    for (i = 0; i < answer.events.length; i++) {
      event = answer.events[i];
      sub = subs[event.topic];
      // the guard against showing anything twice: only what is newer than the page has
      if (!sub || sub.resetting || (sub.cursor !== null && event.seq <= sub.cursor)) continue;
      sub.cursor = event.seq;
      if (!byTopic[event.topic]) { byTopic[event.topic] = []; order.push(event.topic); }
      byTopic[event.topic].push(event);
    }
    for (topic in answer.cursors) {
      sub = subs[topic];
      if (sub && !sub.resetting && (sub.cursor === null || answer.cursors[topic] > sub.cursor)) sub.cursor = answer.cursors[topic];
    }
    save();
    for (i = 0; i < order.length; i++) {
      sub = subs[order[i]];
      if (sub.handlers.events) sub.handlers.events(byTopic[order[i]]);
    }
    for (i = 0; i < answer.resets.length; i++) {
      sub = subs[answer.resets[i]];
      if (!sub) continue;
      sub.resetting = false;
      if (sub.handlers.reset) sub.handlers.reset();
      else window.location.reload();
    }
  }

  function onAnswer(request) {
    var answer;
    if (watchdog) { clearTimeout(watchdog); watchdog = null; }
    if (request !== xhr) return;
    if (request.status === 200) {
      try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; } // eslint-disable-line no-unused-vars
      if (!answer || !answer.cursors) { failed('The console sent a broken answer.'); return; }
      xhr = null;
      backoff = 0;
      setState('live', '');
      if (answer.superseded) {
        // another tab polls with our id (a duplicated tab copies sessionStorage): take a new one
        clientId = newClientId();
        save();
      } else deliver(answer);
      schedule(0);
      return;
    }
    if (request.status === 401) {
      xhr = null;
      stopped = true;
      setState('stopped', 'You are signed out: reload the page to sign in again.');
      return;
    }
    failed(request.status ? 'The console answered ' + request.status + '.' : 'The connection to the console is lost.');
  }

  function poll() {
    if (stopped || xhr || !topicCount) return;
    var request = new XMLHttpRequest();
    xhr = request;
    sent += 1;
    // the query string defeats caches that ignore no-store; the cursor travels in the body
    request.open('POST', '/poll?_=' + new Date().getTime() + '-' + sent, true);
    request.setRequestHeader('Content-Type', 'application/json');
    request.onreadystatechange = function () {
      if (request.readyState === 4) onAnswer(request);
    };
    // a poll that outlives the console's hold time by far is abandoned
    watchdog = setTimeout(function () {
      watchdog = null;
      if (xhr !== request) return;
      xhr = null;
      request.onreadystatechange = null;
      request.abort();
      failed('The console stopped answering.');
    }, holdMs + 30000);
    request.send(JSON.stringify({ client: clientId, boot: boot, topics: topics() }));
  }

  // back online: try at once instead of waiting out the back-off
  if (window.addEventListener) {
    window.addEventListener('online', function () {
      if (!xhr && !stopped && backoff) { backoff = 0; schedule(0); }
    }, false);
  }

  Longship.poll = {
    /**
     * Watches a topic from a cursor (the last seq the page shows; null: from
     * now). The first subscription starts the poll.
     */
    subscribe: function (topic, cursor, handlers) {
      if (cursor === null && stored && stored.boot === boot && stored.cursors && typeof stored.cursors[topic] === 'number') {
        cursor = stored.cursors[topic];
      }
      if (!own(subs, topic)) topicCount += 1;
      subs[topic] = { cursor: cursor, handlers: handlers || {}, resetting: false };
      // stored at once, so a reload before the first answer keeps this tab's client too
      save();
      if (xhr) {
        // the poll in flight does not carry the new topic: start a new one (the server answers the old one)
        if (watchdog) { clearTimeout(watchdog); watchdog = null; }
        xhr.onreadystatechange = null;
        xhr.abort();
        xhr = null;
      }
      if (!backoff) schedule(0);
    },
    /** 'live', 'reconnecting' or 'stopped' (also in body[data-poll-state]). */
    state: function () { return body.getAttribute('data-poll-state') || 'starting'; }
  };
}());

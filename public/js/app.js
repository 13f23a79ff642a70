/*
 * Longship page behaviour, ES5 for old browsers: every page works without
 * it; with it, deletes confirm in a dialog and happen in place.
 */
(function () {
  'use strict';

  function csrfToken() {
    var meta = document.getElementsByName('csrf-token')[0];
    return meta ? meta.getAttribute('content') : '';
  }

  /** POST by XMLHttpRequest with the CSRF header; calls back (error, json). */
  function post(url, callback) {
    var xhr = new XMLHttpRequest();
    xhr.open('POST', url, true);
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var json = null;
      try { json = JSON.parse(xhr.responseText); } catch (ignored) { json = null; } // eslint-disable-line no-unused-vars
      if (xhr.status >= 200 && xhr.status < 300) callback(null, json);
      else callback(new Error((json && json.error) || ('The server answered ' + xhr.status)), json);
    };
    xhr.send('');
  }

  function flash(kind, text) {
    var main = document.getElementsByTagName('main')[0];
    var p = document.createElement('p');
    p.className = 'flash flash-' + kind;
    p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    p.appendChild(document.createTextNode(text));
    main.insertBefore(p, main.firstChild);
  }

  function onDeleteClick(event, link) {
    if (event.preventDefault) event.preventDefault(); else event.returnValue = false;
    if (!window.confirm(link.getAttribute('data-confirm') || 'Delete?')) return;
    post(link.getAttribute('data-delete'), function (err, json) {
      if (err) { flash('error', err.message); return; }
      var after = link.getAttribute('data-after');
      if (after) { window.location.href = after; return; }
      var row = document.getElementById(link.getAttribute('data-row'));
      if (row && row.parentNode) row.parentNode.removeChild(row);
      flash('success', (json && json.message) || 'Deleted.');
    });
  }

  // one listener for the whole page, so rows added later work too
  function onClick(event) {
    event = event || window.event;
    var node = event.target || event.srcElement;
    while (node && node !== document) {
      if (node.getAttribute && node.getAttribute('data-delete')) { onDeleteClick(event, node); return; }
      node = node.parentNode;
    }
  }

  if (document.addEventListener) document.addEventListener('click', onClick, false);
  else document.attachEvent('onclick', onClick);
}());

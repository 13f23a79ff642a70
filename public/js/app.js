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
      // any other button that asks first (cancel a release, roll back)
      if (node.getAttribute && node.getAttribute('data-confirm')) {
        if (!window.confirm(node.getAttribute('data-confirm'))) {
          if (event.preventDefault) event.preventDefault(); else event.returnValue = false;
        }
        return;
      }
      node = node.parentNode;
    }
  }

  /*
   * Parts of a form that apply to one choice only (data-show-for="kind:key")
   * are hidden while another choice is checked. Without JavaScript every
   * part shows and the server ignores the ones that do not apply.
   */
  function checkedValue(name) {
    var inputs = document.getElementsByName(name);
    for (var i = 0; i < inputs.length; i++) if (inputs[i].checked) return inputs[i].value;
    return null;
  }

  function updateChoices() {
    if (!document.querySelectorAll) return;
    var parts = document.querySelectorAll('[data-show-for]');
    for (var i = 0; i < parts.length; i++) {
      var rule = parts[i].getAttribute('data-show-for').split(':');
      var value = checkedValue(rule[0]);
      parts[i].style.display = value === null || value === rule[1] ? '' : 'none';
    }
  }

  function onChange(event) {
    event = event || window.event;
    var node = event.target || event.srcElement;
    if (node && node.type === 'radio') updateChoices();
  }

  if (document.addEventListener) {
    document.addEventListener('click', onClick, false);
    document.addEventListener('change', onChange, false);
  } else {
    document.attachEvent('onclick', onClick);
    // old IE fires no bubbling change for radios; a click is as good there
    document.attachEvent('onclick', onChange);
  }
  updateChoices();
}());

/*
 * The assets pages, live. On the list, the latest SSH collection run shows
 * each host's progress and result as it happens (new rows come from
 * live-list.js). On an asset's page, a collection of that asset (from an
 * agent, SSH or a teammate's "collect now") re-fetches the facts, history
 * and errors without a reload. Without JavaScript both pages show the
 * state as of their loading, with a refresh link while a run goes on.
 */
(function () {
  'use strict';

  if (!window.Longship || !window.Longship.poll) return;
  var poll = window.Longship.poll;

  function text(tag, value) {
    var node = document.createElement(tag);
    node.appendChild(document.createTextNode(value));
    return node;
  }

  function setText(node, value) {
    while (node.firstChild) node.removeChild(node.firstChild);
    node.appendChild(document.createTextNode(value));
  }

  /* the collection run on /assets */
  var runBox = document.getElementById('collect-run');
  if (runBox) {
    var hostBody = document.getElementById('collect-hosts').getElementsByTagName('tbody')[0];
    var counts = document.getElementById('collect-run-counts');
    var runLabel = document.getElementById('collect-run-id');
    var currentRun = runBox.getAttribute('data-run');

    var hostRow = function (host) {
      var id = 'collect-host-' + host.serverId;
      var row = document.getElementById(id);
      if (!row) {
        row = document.createElement('tr');
        row.id = id;
        row.appendChild(text('td', host.hostname));
        var status = text('td', '');
        status.className = 'collect-status';
        row.appendChild(status);
        var message = text('td', '');
        message.className = 'collect-message';
        row.appendChild(message);
        hostBody.appendChild(row);
      }
      row.className = 'status-' + host.status;
      var cells = row.getElementsByTagName('td');
      setText(cells[1], host.status);
      var detail = cells[2];
      while (detail.firstChild) detail.removeChild(detail.firstChild);
      if (host.assetId) {
        var link = text('a', 'asset');
        link.setAttribute('href', '/assets/' + host.assetId);
        detail.appendChild(link);
        detail.appendChild(document.createTextNode(' '));
      }
      detail.appendChild(document.createTextNode(host.message || ''));
    };

    var applyRun = function (event) {
      if (String(event.run) !== String(currentRun)) {
        // a new run replaces the table
        currentRun = String(event.run);
        while (hostBody.firstChild) hostBody.removeChild(hostBody.firstChild);
        setText(runLabel, 'run ' + event.run);
      }
      runBox.removeAttribute('hidden');
      runBox.setAttribute('data-run', currentRun);
      setText(counts, event.done + ' of ' + event.total + ' done, ' + event.failed + ' failed' + (event.finished ? ' — finished' : ' — running'));
      if (event.host) hostRow(event.host);
    };

    poll.subscribe('asset-collect', Number(runBox.getAttribute('data-cursor')), {
      events: function (events) {
        for (var i = 0; i < events.length; i++) applyRun(events[i].data);
      }
    });
  }

  /* one asset's page */
  var live = document.getElementById('asset-live');
  if (live) {
    var assetId = live.getAttribute('data-asset');
    var loading = false;
    var again = false;

    var refresh = function () {
      if (loading) { again = true; return; }
      loading = true;
      var xhr = new XMLHttpRequest();
      xhr.open('GET', '/assets/' + assetId + '/details?_=' + new Date().getTime(), true);
      xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
      xhr.onreadystatechange = function () {
        if (xhr.readyState !== 4) return;
        loading = false;
        if (xhr.status === 200) {
          live.innerHTML = xhr.responseText;
          live.className = 'changed';
        }
        if (again) { again = false; refresh(); }
      };
      xhr.send(null);
    };

    poll.subscribe('assets', Number(live.getAttribute('data-cursor')), {
      events: function (events) {
        for (var i = 0; i < events.length; i++) {
          if (String(events[i].data.id) === assetId) { refresh(); return; }
        }
      },
      reset: refresh
    });
  }
}());

/*
 * Live list pages (servers, projects, assets, collection errors): when
 * someone creates, edits or deletes a row, every open list shows it without
 * a reload. The event only says which row changed; the row itself is
 * fetched as this user sees it (an admin's row has edit and delete links, a
 * viewer's has none).
 */
(function () {
  'use strict';

  var table = null;
  var tables = document.getElementsByTagName('table');
  for (var t = 0; t < tables.length; t++) if (tables[t].getAttribute('data-live-topic')) table = tables[t];
  if (!table || !window.Longship || !window.Longship.poll) return;
  var tbody = table.getElementsByTagName('tbody')[0];
  var prefix = table.getAttribute('data-live-prefix');
  var rowUrl = table.getAttribute('data-live-row');

  function addClass(node, name) {
    if ((' ' + node.className + ' ').indexOf(' ' + name + ' ') < 0) node.className = (node.className ? node.className + ' ' : '') + name;
  }

  function removeClass(node, name) {
    node.className = (' ' + node.className + ' ').replace(' ' + name + ' ', ' ').replace(/^\s+|\s+$/g, '');
  }

  function markRemoved(row, label) {
    removeClass(row, 'changed');
    addClass(row, 'removed');
    row.setAttribute('title', label + ' was deleted');
    // its links lead nowhere now
    var links = row.getElementsByTagName('a');
    for (var i = links.length - 1; i >= 0; i--) {
      if (links[i].getAttribute('data-delete')) links[i].parentNode.removeChild(links[i]);
      else links[i].removeAttribute('href');
    }
  }

  // old IE cannot set innerHTML on table parts, so the row is parsed inside a whole table
  function parseRow(html) {
    var holder = document.createElement('div');
    holder.innerHTML = '<table><tbody>' + html + '</tbody></table>';
    var rows = holder.getElementsByTagName('tr');
    return rows.length ? rows[0] : null;
  }

  function removeEmptyNotice() {
    var cells = tbody.getElementsByTagName('td');
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].className === 'empty') { tbody.removeChild(cells[i].parentNode); return; }
    }
  }

  function showRow(change) {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', rowUrl.replace('{id}', String(change.id)) + '?_=' + new Date().getTime(), true);
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var current = document.getElementById(prefix + change.id);
      if (xhr.status === 404) { if (current) markRemoved(current, change.label); return; }
      if (xhr.status !== 200) return;
      var row = parseRow(xhr.responseText);
      if (!row) return;
      addClass(row, 'changed');
      row.setAttribute('title', change.label + (change.action === 'created' ? ' was just added' : ' was just changed'));
      if (current) {
        current.parentNode.replaceChild(row, current);
      } else {
        // a new row goes on top, marked, whatever the sort: a reload puts it in its place
        removeEmptyNotice();
        tbody.insertBefore(row, tbody.firstChild);
      }
    };
    xhr.send(null);
  }

  function apply(change) {
    var current = document.getElementById(prefix + change.id);
    if (change.action === 'deleted') {
      if (current) markRemoved(current, change.label);
      return;
    }
    // an update to a row on another page of the list does not belong here
    if (change.action === 'updated' && !current) return;
    showRow(change);
  }

  window.Longship.poll.subscribe(table.getAttribute('data-live-topic'), Number(table.getAttribute('data-live-cursor')), {
    events: function (events) {
      for (var i = 0; i < events.length; i++) apply(events[i].data);
    }
  });
}());

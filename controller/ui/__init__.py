"""The web view of the network at GET /ui/, on the process's one REST server (Ryu's
WSGI, ``--wsapi-port``): the live topology (switches, links, hosts; the spanning tree or
the SFT highlighted; failed links), the epoch history, the arbiter's conflicts and
damped regions, VLAN membership. The page polls JSON endpoints: /ui/api/topology (here,
controller/ui/topology.py) and the apps' own (/stable/history, /arbiter/conflicts,
/arbiter/damped, /vswitch/hosts) when those apps run.

Its JavaScript and CSS are files of this package (static/, with cytoscape vendored in
static/vendor/ from npm: its README says which version): no CDN, it works offline.
Read-only, like every GET: the REST guard (controller/rest.py) stays in front.
"""

import os
from typing import Any

from ryu.app.wsgi import ControllerBase, Response, route

from controller.rest import json_response, register_once
from controller.ui.topology import TOPOLOGY, Partial, add_view

__all__ = ['Partial', 'UiController', 'add_view', 'serve']

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
CONTENT_TYPES = {
    '.html': 'text/html',
    '.js': 'application/javascript',
    '.css': 'text/css',
    '.md': 'text/plain',
    '.cytoscape': 'text/plain',  # LICENSE.cytoscape
}


def static_files() -> dict[str, str]:
    """{path under /ui/static/: file} of every file served: only what is there, so no
    request can name a file outside the directory."""
    found = {}
    for directory, _, names in os.walk(STATIC):
        for name in names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, STATIC).replace(os.sep, '/')] = path
    return found


FILES = static_files()


def _file_response(relative: str) -> Response:
    path = FILES.get(relative)
    if path is None:
        return json_response({'error': 'no such file: /ui/static/%s' % relative}, 404)
    with open(path, 'rb') as f:
        body = f.read()
    content_type = CONTENT_TYPES.get(os.path.splitext(path)[1], 'application/octet-stream')
    charset = 'utf-8' if content_type.startswith(('text/', 'application/javascript')) else None
    response = Response(status=200, body=body, content_type=content_type, charset=charset)
    response.headers['Cache-Control'] = 'no-cache'
    return response


class UiController(ControllerBase):
    """GET /ui/ and its files, GET /ui/api/topology."""

    @route('ui', '/ui', methods=['GET'])
    def bare(self, req: Any, **_: Any) -> Response:
        response = Response(status=301)
        response.headers['Location'] = '/ui/'
        return response

    @route('ui', '/ui/', methods=['GET'])
    def index(self, req: Any, **_: Any) -> Response:
        return _file_response('index.html')

    @route('ui', '/ui/static/{name}', methods=['GET'])
    def static(self, req: Any, name: str, **_: Any) -> Response:
        return _file_response(name)

    @route('ui', '/ui/static/vendor/{name}', methods=['GET'])
    def vendor(self, req: Any, name: str, **_: Any) -> Response:
        return _file_response('vendor/' + name)

    @route('ui', '/ui/api/topology', methods=['GET'])
    def topology(self, req: Any, **_: Any) -> Response:
        return json_response(TOPOLOGY.snapshot())


def serve(wsgi: Any) -> None:
    """Register the web view on the process's WSGIApplication (once, whichever app asks
    first)."""
    register_once(wsgi, UiController)

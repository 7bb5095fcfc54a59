"""JSON over HTTP for the REST handlers' tests (admin and client API), on http.client."""
import base64
import http.client
import json


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(port, method, path, body=None, authorization=None, host=None):
    """(status, body as JSON when the answer is JSON else text, headers)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    if host:
        headers["Host"] = host
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read().decode()
    connection.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(data) if data else None, dict(response.getheaders())
    return response.status, data, dict(response.getheaders())

"""Loopback OIDC issuer keys: a JSON Web Key Set (RFC 7517) as an identity
provider publishes it, for the gateway's jwt_oidc auth specs.
  GET /.well-known/jwks.json  -> the current set {"keys": [...]}
  PUT /jwks                   {"keys": [...]}  replace the set (key rotation), 204
Requests are counted per path (/__admin/stats), so a spec can see when the
gateway refetched the set."""
from common import Handler, BadRequest, serve


class Jwks(Handler):
    @classmethod
    def setup_state(cls, st, args):
        st.jwks = {"keys": []}

    def reset_data(self):
        self.state.jwks = {"keys": []}

    def get_jwks(self):
        with self.state.lock:
            self.send(200, self.state.jwks)

    def put_jwks(self):
        b = self.body_json()
        if not isinstance(b, dict) or not isinstance(b.get("keys"), list):
            raise BadRequest("body must be {\"keys\": [...]}")
        with self.state.lock:
            self.state.jwks = b
        self.send(204)


Jwks.routes = [
    ("GET", "/.well-known/jwks.json", Jwks.get_jwks),
    ("PUT", "/jwks", Jwks.put_jwks),
]

if __name__ == "__main__":
    serve(Jwks)

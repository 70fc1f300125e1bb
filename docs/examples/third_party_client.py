"""A third party using Plinth with stock libraries: an OAuth 2.0 client
(requests-oauthlib, password and refresh_token grants) and a JWT library
(PyJWT, verifying the access token against /.well-known/jwks.json).

    pip install PyJWT cryptography requests requests-oauthlib
    cargo xtask up            # in another terminal
    python3 docs/examples/third_party_client.py
"""
import os, uuid
import jwt, requests
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

base = os.environ.get("PLINTH_URL", "http://127.0.0.1:3000")
email, password = f"oauth-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery"
r = requests.post(f"{base}/v1/auth/signup", json={"email": email, "password": password, "name": "Ada", "org_name": "Oauth Demo " + uuid.uuid4().hex[:6]})
print("signup", r.status_code)

# A stock OAuth2 client, resource-owner password grant, then a refresh.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback only
client = OAuth2Session(client=LegacyApplicationClient(client_id="demo"))
token = client.fetch_token(token_url=f"{base}/v1/auth/token", username=email, password=password, include_client_id=True)
print("password grant:", sorted(token.keys()))
print("GET /v1/orgs/current with it:", client.get(f"{base}/v1/orgs/current").status_code)
refreshed = client.refresh_token(f"{base}/v1/auth/token", client_id="demo")
print("refresh grant: new refresh token", refreshed["refresh_token"] != token["refresh_token"])

# A stock JWT library verifies the access token with the JWKS.
jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
key = jwks.get_signing_key_from_jwt(refreshed["access_token"])
claims = jwt.decode(refreshed["access_token"], key.key, algorithms=["EdDSA"], audience="plinth", issuer="plinth")
print("PyJWT verified:", {k: claims[k] for k in ("iss", "aud", "role", "exp")}, "kid", key.key_id)
try:
    jwt.decode(refreshed["access_token"][:-4] + "AAAA", key.key, algorithms=["EdDSA"], audience="plinth", issuer="plinth")
except jwt.InvalidSignatureError as e:
    print("PyJWT refuses a tampered token:", type(e).__name__)

"""ICE servers: STUN by default; TURN with the short-lived credentials coturn checks."""

import base64
import hashlib
import hmac
import time
from types import SimpleNamespace

import pytest

from rooms import ice

SECRET = "coturn-shared-secret"
TURN = ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]
STUN = ["stun:stun.example.com:3478"]
USER = SimpleNamespace(pk=42)


def expected_credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def stun_only(settings):
    settings.STUN_URLS = STUN
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""


@pytest.fixture
def with_turn(settings):
    settings.STUN_URLS = STUN
    settings.TURN_URLS = TURN
    settings.TURN_SECRET = SECRET
    settings.TURN_TTL_SECONDS = 3600


def test_by_default_there_is_only_stun(stun_only):
    assert ice.ice_servers_for(USER) == [{"urls": STUN}]


def test_without_turn_settings_the_default_stun_server_is_offered(settings):
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""

    servers = ice.ice_servers_for(USER)

    assert len(servers) == 1
    assert servers[0]["urls"]
    assert all(url.startswith("stun:") for url in servers[0]["urls"])
    assert set(servers[0]) == {"urls"}


def test_turn_urls_without_a_secret_add_no_turn_server(stun_only, settings):
    settings.TURN_URLS = TURN

    assert ice.ice_servers_for(USER) == [{"urls": STUN}]


def test_turn_credentials_expire_after_the_ttl_and_name_the_user(with_turn):
    before = int(time.time())
    servers = ice.ice_servers_for(USER)
    after = int(time.time())

    assert servers[0] == {"urls": STUN}
    assert len(servers) == 2
    turn = servers[1]
    assert turn["urls"] == TURN
    expiry, user_id = turn["username"].split(":")
    assert user_id == "42"
    assert before + 3600 <= int(expiry) <= after + 3600
    assert turn["credential"] == expected_credential(SECRET, turn["username"])


def test_turn_credentials_match_a_known_vector():
    # Computed independently with OpenSSL:
    #   printf '%s' "1700003600:42" \
    #     | openssl dgst -sha1 -hmac "coturn-shared-secret" -binary | base64
    credentials = ice.turn_credentials(user_id=42, secret=SECRET, ttl=3600, now=1_700_000_000)

    assert credentials == {
        "username": "1700003600:42",
        "credential": "6hSwijAagsWZicuPG1xplnQ8/Tc=",
    }


def test_turn_credentials_depend_on_the_secret_and_the_user():
    base = ice.turn_credentials(user_id=42, secret=SECRET, ttl=60, now=1_700_000_000)
    other_secret = ice.turn_credentials(user_id=42, secret="another", ttl=60, now=1_700_000_000)
    other_user = ice.turn_credentials(user_id=43, secret=SECRET, ttl=60, now=1_700_000_000)

    assert base["credential"] != other_secret["credential"]
    assert other_user["username"] == "1700000060:43"
    assert other_user["credential"] == expected_credential(SECRET, "1700000060:43")
    assert other_user["credential"] != base["credential"]

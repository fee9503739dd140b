def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client, db, settings):
    response = client.get("/readyz/")
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not configured")


def test_readyz_reports_redis_down_without_failing(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    response = client.get("/readyz/")
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["redis"].startswith("error")

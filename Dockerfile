# The Carevax image: one image for web (gunicorn), Celery worker and Celery beat.
# Stage 1 installs the NHS.UK frontend from npm; stage 2 is the Python runtime.
FROM node:20-bookworm-slim AS frontend
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    VAR_DIR=/app/var
WORKDIR /app

RUN groupadd --system carevax && useradd --system --gid carevax --home /app carevax

# Dependencies first (a cached layer while pyproject.toml is unchanged); the code itself runs
# from /app through PYTHONPATH, so the package copy pip made is removed again.
COPY pyproject.toml ./
COPY portal/__init__.py portal/__init__.py
COPY employers/__init__.py employers/__init__.py
COPY workers/__init__.py workers/__init__.py
COPY bookings/__init__.py bookings/__init__.py
COPY demo/__init__.py demo/__init__.py
COPY benchmarks/__init__.py benchmarks/__init__.py
RUN pip install . && pip uninstall --yes carevax

COPY --from=frontend /app/node_modules ./node_modules
COPY . .

# collectstatic needs settings to load; these build-time values are thrown away with the
# layer and are never the running container's (docker-compose passes the real ones).
RUN SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
    ALLOWED_HOSTS=localhost SITE_URL=https://localhost \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 REDIS_URL=redis://localhost:6379/0 \
    EMAIL_URL=consolemail:// \
    python manage.py collectstatic --no-input \
    && mkdir -p /app/var /app/var/media \
    && chown -R carevax:carevax /app/var

USER carevax
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]

# syntax=docker/dockerfile:1
# Build stage: wheels for the pinned requirements.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# Runtime stage: no compilers, a non-root user, static files collected at build time.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 S2SVPN_VAR_DIR=/app/var
RUN groupadd --system s2svpn && useradd --system --gid s2svpn --home /app s2svpn
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY --chown=s2svpn:s2svpn . .
RUN mkdir -p /app/var && chown s2svpn:s2svpn /app/var \
    && SECRET_KEY=build S2SVPN_FIELD_ENCRYPTION_KEYS=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
       python manage.py collectstatic --noinput -v 0
USER s2svpn
EXPOSE 8000
CMD ["gunicorn", "s2svpn.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]

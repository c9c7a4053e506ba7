# Production image: one image, three roles (web, worker, beat) chosen by command.
FROM node:20-bookworm-slim AS frontend
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
COPY --from=frontend /app/node_modules ./node_modules
# collectstatic only reads files; DEBUG keeps the production checks out of the build.
RUN DEBUG=true python manage.py collectstatic --noinput --verbosity 0
RUN useradd --create-home gridwise && chown -R gridwise /app
USER gridwise
EXPOSE 8000
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--proxy-headers"]

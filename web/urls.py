from django.urls import path

from web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("shared/", views.shared_with_us, name="shared-with-us"),
    path("health/", views.health, name="health"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    # Browsers and tools that ask for /favicon.ico without reading the page's <link rel="icon">.
    path("favicon.ico", views.favicon, name="favicon"),
]

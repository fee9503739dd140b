from django.urls import path

from lithic_integration import views

app_name = "lithic"

urlpatterns = [
    path("asa/", views.asa_authorize, name="asa"),
]

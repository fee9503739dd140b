from django.urls import path

from transactions import views

app_name = "lithic"

urlpatterns = [
    path("asa/", views.asa_authorize, name="asa"),
]

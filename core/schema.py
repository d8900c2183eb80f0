"""OpenAPI generation: every operation documents the shared error body for its error statuses."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from core.api import ErrorSerializer

_ERRORS = {
    "400": "Invalid input: `details` holds the field, row or path errors.",
    "401": "Missing, invalid, expired or revoked credentials.",
    "403": "Your role does not allow this action on your own organisation's object.",
    "404": "Not found, or not visible to your organisation (also: an X-Organization you are not a member of, "
    "or a page number past the end).",
    "415": "The body is of a type this endpoint does not take (JSON; multipart/form-data for files), or "
    "a multipart part without a content type.",
    "429": "Too many requests: slow down, or (logins) the account is locked for a while.",
}


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        auth_required = bool(self.view.get_authenticators()) and not getattr(
            self.view, "schema_public", False
        )
        for code, description in _ERRORS.items():
            if code in responses:
                continue
            if code in {"401", "403"} and not auth_required:
                continue
            if code == "404" and not auth_required:
                continue
            if code == "429" and not self.view.get_throttles():
                continue
            if code == "415" and self.method not in {"POST", "PUT", "PATCH"}:
                continue
            response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            response["description"] = description
            responses[code] = response
        return responses

"""Errors as AWS sends them (status, ``x-amzn-ErrorType``, ``{"message": …}``) so botocore raises the right class,
and plain JSON errors for the OpenLineage and viewer endpoints."""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def validation(message: str) -> ApiError:
    return ApiError(400, "ValidationException", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message)


def aws_response(err: ApiError) -> JSONResponse:
    return JSONResponse({"message": err.message}, status_code=err.status,
                        headers={"x-amzn-ErrorType": err.code, "x-amzn-RequestId": "lineagelab-local"})


def json_response(err: ApiError) -> JSONResponse:
    return JSONResponse({"error": err.code, "message": err.message}, status_code=err.status)

"""核查工作台: the review workbench web app (Starlette, server-rendered). See docs/web.md."""

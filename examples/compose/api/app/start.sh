# Render the answer once, at start: a change needs restart_container().
mkdir -p /srv
echo "{\"message\": \"$(cat /app/message.txt)\"}" > /srv/index.html
echo "api: serving $(cat /app/message.txt)"
exec httpd -f -v -p 8081 -h /srv

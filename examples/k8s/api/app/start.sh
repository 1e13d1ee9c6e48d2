sh /app/render.sh
echo "api: serving $(cat /app/message.txt)"
exec httpd -f -v -p 8081 -h /srv

# Render the answer from message.txt (at start, and by live_update's run() step).
mkdir -p /srv
echo "{\"message\": \"$(cat /app/message.txt)\"}" > /srv/index.html

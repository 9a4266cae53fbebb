from scimhub.admin.cli import main

main()

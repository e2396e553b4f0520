"""Create the notes table

Revision ID: e97a626ec1d7
Revises:
Create Date: 2026-11-22 01:26:39.337668

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e97a626ec1d7"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("words", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )


def downgrade():
    op.drop_table("notes")

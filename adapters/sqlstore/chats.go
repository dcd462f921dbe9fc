package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports/chatports"
)

// chatRow is the chats table as GORM sees it; it never leaves this package.
type chatRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	OwnerID   string    `gorm:"column:owner_id"`
	Title     string    `gorm:"column:title"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

// TableName tells GORM the table's name.
func (chatRow) TableName() string { return "chats" }

func toChatRow(c *chat.Chat) chatRow {
	return chatRow{
		ID:        c.ID().String(),
		OwnerID:   c.Owner().String(),
		Title:     c.Title().String(),
		CreatedAt: dbTime(c.CreatedAt()),
		UpdatedAt: dbTime(c.UpdatedAt()),
	}
}

// toChat rebuilds the chat from its row, checking every column with the
// domain's parsers.
func (r chatRow) toChat() (*chat.Chat, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored chat has a malformed id: %w", err)
	}
	owner, err := uuid.Parse(r.OwnerID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored chat %s has a malformed owner: %w", id, err)
	}
	title, err := chat.ParseTitle(r.Title)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored chat %s has an invalid title: %w", id, err)
	}
	return chat.Restore(chat.ID(id), owner, title, r.CreatedAt, r.UpdatedAt), nil
}

// messageRow is the messages table as GORM sees it.
type messageRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	ChatID    string    `gorm:"column:chat_id"`
	AuthorID  string    `gorm:"column:author_id"`
	Body      string    `gorm:"column:body"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

// TableName tells GORM the table's name.
func (messageRow) TableName() string { return "messages" }

func (r messageRow) toMessage() (*chat.Message, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored message has a malformed id: %w", err)
	}
	chatID, err1 := uuid.Parse(r.ChatID)
	author, err2 := uuid.Parse(r.AuthorID)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("sqlstore: stored message %s has a malformed reference: %w", id, err)
	}
	body, err := chat.ParseBody(r.Body)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored message %s has an invalid body: %w", id, err)
	}
	return chat.RestoreMessage(chat.MessageID(id), chat.ID(chatID), author, body, r.CreatedAt), nil
}

// Chats keeps chats in the chats table. It is safe for concurrent use.
type Chats struct{ db *gorm.DB }

var _ chatports.Chats = (*Chats)(nil)

// NewChats returns the chats store on db, the handle Open returned. Its calls
// join the transaction of a context that Transactor.Atomically gave out.
func NewChats(db *gorm.DB) *Chats { return &Chats{db: db} }

// Add inserts c. The owner's foreign key makes an insert for a deleted
// account fail, with chat.ErrOwnerUnknown. Like every write of the chat
// stores, it is fenced under a deadline on PostgreSQL (inWriteTx).
func (s *Chats) Add(ctx context.Context, c *chat.Chat) error {
	row := toChatRow(c)
	return inWriteTx(ctx, s.db, func(ctx context.Context) error {
		err := conn(ctx, s.db).Create(&row).Error
		if isForeignKeyViolation(err) {
			return chat.ErrOwnerUnknown
		}
		return translate(err)
	})
}

// Get returns the owner's chat id in one indexed lookup, or chat.ErrNotFound.
func (s *Chats) Get(ctx context.Context, owner uuid.UUID, id chat.ID) (*chat.Chat, error) {
	var row chatRow
	err := conn(ctx, s.db).Where("id = ? AND owner_id = ?", id.String(), owner.String()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, translate(err)
	}
	return row.toChat()
}

// List returns a page of the owner's chats newest first, in one statement
// that is a range scan of chats_owner_page_idx: the keyset condition
// (created_at, id) < after, never an OFFSET. It reads one row beyond the page
// to know whether an older chat exists.
func (s *Chats) List(ctx context.Context, owner uuid.UUID, page chat.PageRequest) (chat.Page[*chat.Chat], error) {
	var rows []chatRow
	q := conn(ctx, s.db).Where("owner_id = ?", owner.String())
	if page.After != nil {
		q = q.Where("(created_at, id) < (?, ?)", dbTime(page.After.At), page.After.ID.String())
	}
	err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error
	if err != nil {
		return chat.Page[*chat.Chat]{}, translate(err)
	}
	return toPage(rows, page.Limit, chatRow.toChat, (*chat.Chat).Position)
}

// Update loads the owner's chat id with a row lock (SELECT ... FOR UPDATE on
// PostgreSQL; SQLite's IMMEDIATE transaction serialises writers), applies
// change and writes the title and updated_at, in one transaction. It returns
// the chat as stored.
func (s *Chats) Update(ctx context.Context, owner uuid.UUID, id chat.ID, change func(*chat.Chat) error) (*chat.Chat, error) {
	var updated *chat.Chat
	err := inTx(ctx, s.db, func(ctx context.Context) error {
		db := conn(ctx, s.db)
		var row chatRow
		err := db.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("id = ? AND owner_id = ?", id.String(), owner.String()).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return chat.ErrNotFound
		}
		if err != nil {
			return translate(err)
		}
		c, err := row.toChat()
		if err != nil {
			return err
		}
		if err := change(c); err != nil {
			return err
		}
		next := toChatRow(c)
		if err := db.Model(&chatRow{ID: row.ID}).Select("title", "updated_at").Updates(&next).Error; err != nil {
			return translate(err)
		}
		updated, err = next.toChat()
		return err
	})
	return updated, err
}

// Delete removes the owner's chat id; the foreign key's ON DELETE CASCADE
// removes its messages in the same statement. It fails with chat.ErrNotFound
// when the owner has no such chat.
func (s *Chats) Delete(ctx context.Context, owner uuid.UUID, id chat.ID) error {
	return inWriteTx(ctx, s.db, func(ctx context.Context) error {
		res := conn(ctx, s.db).Where("id = ? AND owner_id = ?", id.String(), owner.String()).Delete(&chatRow{})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return chat.ErrNotFound
		}
		return nil
	})
}

// Messages keeps messages in the messages table. It is safe for concurrent
// use.
type Messages struct{ db *gorm.DB }

var _ chatports.Messages = (*Messages)(nil)

// NewMessages returns the messages store on db, the handle Open returned.
func NewMessages(db *gorm.DB) *Messages { return &Messages{db: db} }

// Add inserts m only if its chat belongs to owner, in one statement
// (INSERT ... SELECT ... WHERE EXISTS), so a chat deleted or foreign gets no
// message: chat.ErrNotFound.
func (s *Messages) Add(ctx context.Context, owner uuid.UUID, m *chat.Message) error {
	return inWriteTx(ctx, s.db, func(ctx context.Context) error { return s.add(ctx, owner, m) })
}

func (s *Messages) add(ctx context.Context, owner uuid.UUID, m *chat.Message) error {
	res := conn(ctx, s.db).Exec(
		`INSERT INTO messages (id, chat_id, author_id, body, created_at)
		 SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chats WHERE id = ? AND owner_id = ?)`,
		m.ID().String(), m.Chat().String(), m.Author().String(), m.Body().String(), dbTime(m.CreatedAt()),
		m.Chat().String(), owner.String())
	if isForeignKeyViolation(res.Error) {
		return chat.ErrNotFound // the chat went between the check and the insert
	}
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return chat.ErrNotFound
	}
	return nil
}

// List returns a page of the messages of the owner's chat newest first, in
// one statement that is a range scan of messages_chat_page_idx, with the
// ownership check as an EXISTS beside it. Only an empty page costs a second
// statement, to tell an empty chat (an empty page) from a chat that is not
// the owner's (chat.ErrNotFound).
func (s *Messages) List(ctx context.Context, owner uuid.UUID, chatID chat.ID, page chat.PageRequest) (chat.Page[*chat.Message], error) {
	var rows []messageRow
	q := conn(ctx, s.db).
		Where("chat_id = ? AND EXISTS (SELECT 1 FROM chats WHERE chats.id = ? AND chats.owner_id = ?)", chatID.String(), chatID.String(), owner.String())
	if page.After != nil {
		q = q.Where("(created_at, id) < (?, ?)", dbTime(page.After.At), page.After.ID.String())
	}
	err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error
	if err != nil {
		return chat.Page[*chat.Message]{}, translate(err)
	}
	if len(rows) == 0 {
		var found int64
		err := conn(ctx, s.db).Model(&chatRow{}).Where("id = ? AND owner_id = ?", chatID.String(), owner.String()).Limit(1).Count(&found).Error
		if err != nil {
			return chat.Page[*chat.Message]{}, translate(err)
		}
		if found == 0 {
			return chat.Page[*chat.Message]{}, chat.ErrNotFound
		}
	}
	return toPage(rows, page.Limit, messageRow.toMessage, (*chat.Message).Position)
}

// toPage converts up to limit rows, in order, and sets Next when a row
// beyond the page was read.
func toPage[R, T any](rows []R, limit int, convert func(R) (T, error), pos func(T) chat.Cursor) (chat.Page[T], error) {
	out := chat.Page[T]{Items: make([]T, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			next := pos(out.Items[limit-1])
			out.Next = &next
			break
		}
		item, err := convert(r)
		if err != nil {
			return chat.Page[T]{}, err
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

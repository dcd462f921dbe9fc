package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/application/chatapp"
	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
)

// ChatsPath is where the chat context's routes live.
const ChatsPath = "/api/v1/chats"

// chatErrors map the chat context's errors to HTTP answers. A chat of
// another user is not found, exactly like a missing one.
var chatErrors = []errorStatus{
	{chat.ErrNotFound, http.StatusNotFound, "chat not found"},
	{chat.ErrOwnerUnknown, http.StatusUnauthorized, "access token is invalid, expired or revoked"},
}

// ChatRoutes serves the chat context under ChatsPath. Every route is a
// bearer route: the shared authenticator refuses a revoked session before
// any handler runs.
type ChatRoutes struct {
	uc      *chatapp.UseCases
	bearer  *Bearer
	guard   *Guard
	writes  ports.Limit
	decoder *decoder
}

// NewChatRoutes builds the chat context's routes. writes limits how many
// chats and messages one user may create per window (429 beyond).
func NewChatRoutes(uc *chatapp.UseCases, bearer *Bearer, guard *Guard, writes ports.Limit) *ChatRoutes {
	return &ChatRoutes{uc: uc, bearer: bearer, guard: guard, writes: writes, decoder: newDecoder()}
}

// Register adds the chat routes to r.
func (cr *ChatRoutes) Register(r gin.IRouter) {
	handle := func(h func(*gin.Context) error) gin.HandlerFunc { return handleWith(chatErrors, h) }
	g := r.Group(ChatsPath, cr.bearer.Require)
	g.POST("", cr.limitWrites, handle(cr.create))
	g.GET("", handle(cr.list))
	g.GET("/:id", handle(cr.get))
	g.PATCH("/:id", handle(cr.rename))
	g.DELETE("/:id", handle(cr.delete))
	g.POST("/:id/messages", cr.limitWrites, handle(cr.post))
	g.GET("/:id/messages", handle(cr.listMessages))
}

// limitWrites takes one event of the caller's write budget.
func (cr *ChatRoutes) limitWrites(c *gin.Context) {
	if err := cr.guard.allow(c, "chat-writes", "chat-writes-user:"+principal(c).UserID.String(), cr.writes); err != nil {
		writeProblem(c, err)
		return
	}
	c.Next()
}

type titleRequest struct {
	Title optional[string] `json:"title" validate:"required"`
}

type messageRequest struct {
	Body optional[string] `json:"body" validate:"required"`
}

// chatResponse is the contract's ChatRead.
type chatResponse struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toChatResponse(c *chat.Chat) chatResponse {
	return chatResponse{ID: c.ID().String(), Title: c.Title().String(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
}

// messageResponse is the contract's MessageRead.
type messageResponse struct {
	ID        string    `json:"id"`
	ChatID    string    `json:"chat_id"`
	AuthorID  string    `json:"author_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

func toMessageResponse(m *chat.Message) messageResponse {
	return messageResponse{ID: m.ID().String(), ChatID: m.Chat().String(), AuthorID: m.Author().String(), Body: m.Body().String(), CreatedAt: m.CreatedAt()}
}

// pageResponse is a page of a list route: its items, newest first, and the
// cursor of the next page, null on the last.
type pageResponse[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func toPageResponse[T, R any](p chat.Page[T], convert func(T) R) pageResponse[R] {
	out := pageResponse[R]{Items: make([]R, 0, len(p.Items))}
	for _, item := range p.Items {
		out.Items = append(out.Items, convert(item))
	}
	if p.Next != nil {
		next := p.Next.String()
		out.NextCursor = &next
	}
	return out
}

// chatID reads the :id path parameter; a malformed id is chat.ErrNotFound,
// like an unknown one.
func chatID(c *gin.Context) (chat.ID, error) { return chat.ParseID(c.Param("id")) }

// pageRequest reads the limit and cursor query parameters of a list route,
// reporting every bad one at once (422, named as the parameter).
func pageRequest(c *gin.Context) (chat.PageRequest, error) {
	var (
		r    chat.PageRequest
		errs fieldErrors
	)
	if s, ok := c.GetQuery("limit"); ok {
		n, err := chat.ParseLimit(s)
		errs.add("limit", err)
		r.Limit = n
	}
	if s, ok := c.GetQuery("cursor"); ok {
		cur, err := chat.ParseCursor(s)
		errs.add("cursor", err)
		r.After = &cur
	}
	if len(errs) > 0 {
		return chat.PageRequest{}, &badRequest{status: http.StatusUnprocessableEntity, detail: "query parameters failed validation", fields: errs}
	}
	return r, nil
}

// title reads a {title} body: 415, 413 or 400 for one that cannot be read,
// 422 naming every bad field.
func (cr *ChatRoutes) title(c *gin.Context) (chat.Title, error) {
	var req titleRequest
	fields, err := cr.decoder.decode(c, &req)
	if err != nil {
		return chat.Title{}, err
	}
	errs := fieldErrors(fields)
	title := parse(&errs, "title", req.Title, chat.ParseTitle)
	return title, errs.err()
}

// body reads a {body} body, as title does.
func (cr *ChatRoutes) body(c *gin.Context) (chat.Body, error) {
	var req messageRequest
	fields, err := cr.decoder.decode(c, &req)
	if err != nil {
		return chat.Body{}, err
	}
	errs := fieldErrors(fields)
	body := parse(&errs, "body", req.Body, chat.ParseBody)
	return body, errs.err()
}

func (cr *ChatRoutes) create(c *gin.Context) error {
	title, err := cr.title(c)
	if err != nil {
		return err
	}
	created, err := cr.uc.CreateChat.Do(c.Request.Context(), principal(c), title)
	if err != nil {
		return err
	}
	c.Header("Location", ChatsPath+"/"+created.ID().String())
	c.JSON(http.StatusCreated, toChatResponse(created))
	return nil
}

func (cr *ChatRoutes) list(c *gin.Context) error {
	r, err := pageRequest(c)
	if err != nil {
		return err
	}
	page, err := cr.uc.ListChats.Do(c.Request.Context(), principal(c), r)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toPageResponse(page, toChatResponse))
	return nil
}

func (cr *ChatRoutes) get(c *gin.Context) error {
	id, err := chatID(c)
	if err != nil {
		return err
	}
	found, err := cr.uc.GetChat.Do(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toChatResponse(found))
	return nil
}

func (cr *ChatRoutes) rename(c *gin.Context) error {
	id, err := chatID(c) // a malformed id is 404 whatever the body
	if err != nil {
		return err
	}
	title, err := cr.title(c)
	if err != nil {
		return err
	}
	renamed, err := cr.uc.RenameChat.Do(c.Request.Context(), principal(c), id, title)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toChatResponse(renamed))
	return nil
}

func (cr *ChatRoutes) delete(c *gin.Context) error {
	id, err := chatID(c)
	if err != nil {
		return err
	}
	if err := cr.uc.DeleteChat.Do(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (cr *ChatRoutes) post(c *gin.Context) error {
	id, err := chatID(c)
	if err != nil {
		return err
	}
	body, err := cr.body(c)
	if err != nil {
		return err
	}
	m, err := cr.uc.PostMessage.Do(c.Request.Context(), principal(c), id, body)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, toMessageResponse(m))
	return nil
}

func (cr *ChatRoutes) listMessages(c *gin.Context) error {
	id, err := chatID(c)
	if err != nil {
		return err
	}
	r, err := pageRequest(c)
	if err != nil {
		return err
	}
	page, err := cr.uc.ListMessages.Do(c.Request.Context(), principal(c), id, r)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toPageResponse(page, toMessageResponse))
	return nil
}
